"""Back office for villages. Lists mask ID numbers and phones; writes go through services.

Households, members and archives arrive from PADs and spreadsheet imports, so the admin shows them
read-only apart from a household's contact details; peer review votes are never shown one by one,
only the results of closed rounds.
"""

from villages import admin_imports
from villages.admin import campaigns, households, places, review

__all__ = ["admin_imports", "campaigns", "households", "places", "review"]
