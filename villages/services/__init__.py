"""Every write of the villages app. Admin, API, imports and tasks call these."""

from villages.services.access import (
    may_reveal_identity,
    personal_data_reveal,
)
from villages.services.campaigns import (
    campaign_create,
    campaign_create_check,
    campaign_transition,
    campaign_update,
    campaign_update_check,
)
from villages.services.households import (
    archive_clean_figures,
    archive_upsert,
    household_upsert,
    member_upsert,
)
from villages.services.peer_review import (
    aggregate_colour,
    peer_review_evaluator_add,
    peer_review_round_close,
    peer_review_round_open,
    peer_review_vote_cast,
)
from villages.services.places import (
    division_create,
    division_update,
    divisions_load,
    village_assign,
    village_assignment_check,
    village_create,
    village_create_check,
    village_unassign,
    village_update,
)
from villages.services.visits import field_visit_record, photo_check, visit_photo_add

__all__ = [
    "aggregate_colour",
    "archive_clean_figures",
    "archive_upsert",
    "campaign_create",
    "campaign_create_check",
    "campaign_transition",
    "campaign_update",
    "campaign_update_check",
    "division_create",
    "division_update",
    "divisions_load",
    "field_visit_record",
    "household_upsert",
    "may_reveal_identity",
    "member_upsert",
    "peer_review_evaluator_add",
    "peer_review_round_close",
    "peer_review_round_open",
    "peer_review_vote_cast",
    "personal_data_reveal",
    "photo_check",
    "village_assign",
    "village_assignment_check",
    "village_create",
    "village_create_check",
    "village_unassign",
    "village_update",
    "visit_photo_add",
]
