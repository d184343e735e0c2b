from lending.applications.models import (
    Application,
    ApplicationAttachment,
    ApplicationEvent,
    ApplicationParty,
    ApprovalTask,
)
from lending.contracts.models import (
    Contract,
    ContractSigner,
    ContractTemplate,
    EvidenceRecord,
    SigningCode,
    TrustCertificate,
)
from lending.lines.models import CreditLine, CreditLineChange, LinePreapproval

__all__ = [
    "Application",
    "ApplicationAttachment",
    "ApplicationEvent",
    "ApplicationParty",
    "ApprovalTask",
    "Contract",
    "ContractSigner",
    "ContractTemplate",
    "CreditLine",
    "CreditLineChange",
    "EvidenceRecord",
    "LinePreapproval",
    "SigningCode",
    "TrustCertificate",
]
