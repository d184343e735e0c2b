"""Every write of loans: drawdown and disbursement (``_disbursement``), repayments
(``_repayments``), write-off, recoveries and the manual classification (``_writeoff``), back-dated payments and
reversals by reverse-replay (``_replay``). Admin, API and tasks import from here."""

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
    loan_auto_debit,
    loan_quote,
    loan_repay,
    loans_auto_debit_due,
)
from lending.loans.services._replay import loan_rebuild, loan_transaction_reverse
from lending.loans.services._writeoff import (
    loan_classify,
    loan_recover,
    loan_write_off_approve,
    loan_write_off_reject,
    loan_write_off_request,
)

__all__ = [
    "DISBURSEMENT_STALE_AFTER",
    "RESCHEDULES",
    "LoanBusy",
    "LoanConflict",
    "Quote",
    "loan_auto_debit",
    "loan_cancel",
    "loan_classify",
    "loan_disburse",
    "loan_disbursement_retry",
    "loan_drawdown",
    "loan_quote",
    "loan_rebuild",
    "loan_recover",
    "loan_repay",
    "loan_transaction_reverse",
    "loan_write_off_approve",
    "loan_write_off_reject",
    "loan_write_off_request",
    "loans_auto_debit_due",
    "loans_disbursement_retry",
]
