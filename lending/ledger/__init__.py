"""The loan ledger (贷款分户账与总账): balanced double-entry journal entries, append-only."""
