from lending.applications.models import (
    Application,
    ApplicationAttachment,
    ApplicationEvent,
    ApplicationParty,
    ApprovalTask,
)
from lending.cob.models import CobChunk, CobLoanFailure, CobRun
from lending.contracts.models import (
    Contract,
    ContractSigner,
    ContractTemplate,
    EvidenceRecord,
    SigningCode,
    TrustCertificate,
)
from lending.corebank.models import SandboxDepositAccount, SandboxDepositTransaction
from lending.ledger.models import JournalEntry, JournalLine
from lending.lines.models import CreditLine, CreditLineChange, LinePreapproval
from lending.loans.models import (
    BatchLock,
    Instalment,
    Loan,
    LoanEvent,
    LoanTransaction,
    WriteOff,
)

__all__ = [
    "Application",
    "ApplicationAttachment",
    "ApplicationEvent",
    "ApplicationParty",
    "ApprovalTask",
    "BatchLock",
    "CobChunk",
    "CobLoanFailure",
    "CobRun",
    "Contract",
    "ContractSigner",
    "ContractTemplate",
    "CreditLine",
    "CreditLineChange",
    "EvidenceRecord",
    "Instalment",
    "JournalEntry",
    "JournalLine",
    "LinePreapproval",
    "Loan",
    "LoanEvent",
    "LoanTransaction",
    "SandboxDepositAccount",
    "SandboxDepositTransaction",
    "SigningCode",
    "TrustCertificate",
    "WriteOff",
]
