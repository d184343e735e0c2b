from lending.applications.models import (
    Application,
    ApplicationAttachment,
    ApplicationEvent,
    ApplicationParty,
    ApprovalTask,
)
from lending.lines.models import CreditLine, CreditLineChange, LinePreapproval

__all__ = [
    "Application",
    "ApplicationAttachment",
    "ApplicationEvent",
    "ApplicationParty",
    "ApprovalTask",
    "CreditLine",
    "CreditLineChange",
    "LinePreapproval",
]
