from villages.models.access import PersonalDataAccess
from villages.models.archives import EconomicArchive
from villages.models.campaigns import Campaign
from villages.models.divisions import Division, Village, VillageAssignment
from villages.models.households import Household, ListColour, Member
from villages.models.imports import ImportJob
from villages.models.peer_review import (
    EvaluatorLoginCode,
    PeerReviewEvaluator,
    PeerReviewResult,
    PeerReviewRound,
    PeerReviewVote,
)
from villages.models.visits import FieldVisit, VisitPhoto

__all__ = [
    "Campaign",
    "Division",
    "EconomicArchive",
    "EvaluatorLoginCode",
    "FieldVisit",
    "Household",
    "ImportJob",
    "ListColour",
    "Member",
    "PeerReviewEvaluator",
    "PeerReviewResult",
    "PeerReviewRound",
    "PeerReviewVote",
    "PersonalDataAccess",
    "Village",
    "VillageAssignment",
    "VisitPhoto",
]
