"""Loan applications (贷款申请): from the PAD, self-service or the counter, decided by the
product's strategy, then approved automatically or referred to review."""
