"""Every write of loans: drawdown and disbursement (``_disbursement``), repayments
(``_repayments``). Admin, API and tasks import from here."""

from lending.loans.services._disbursement import (
    DISBURSEMENT_STALE_AFTER,
    LoanConflict,
    loan_cancel,
    loan_disburse,
    loan_disbursement_retry,
    loan_drawdown,
    loans_disbursement_retry,
)
from lending.loans.services._repayments import (
    RESCHEDULES,
    LoanBusy,
    Quote,
    loan_quote,
    loan_repay,
)

__all__ = [
    "DISBURSEMENT_STALE_AFTER",
    "RESCHEDULES",
    "LoanBusy",
    "LoanConflict",
    "Quote",
    "loan_cancel",
    "loan_disburse",
    "loan_disbursement_retry",
    "loan_drawdown",
    "loan_quote",
    "loan_repay",
    "loans_disbursement_retry",
]
