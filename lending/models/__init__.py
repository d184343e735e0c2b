from lending.lines.models import CreditLine, CreditLineChange, LinePreapproval

__all__ = ["CreditLine", "CreditLineChange", "LinePreapproval"]
