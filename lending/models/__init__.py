from lending.applications.models import Application, ApplicationEvent, ApplicationParty
from lending.lines.models import CreditLine, CreditLineChange, LinePreapproval

__all__ = [
    "Application",
    "ApplicationEvent",
    "ApplicationParty",
    "CreditLine",
    "CreditLineChange",
    "LinePreapproval",
]
