"""Loans (贷款): a drawdown on an active line, its disbursement through the core, its schedule,
its balances and its movements."""
