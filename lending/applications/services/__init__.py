"""Every write of applications. Split by concern: ``_origination`` (create, submit and decide,
withdraw, the contract steps), ``_approval`` (investigation, reviewers drawn at each level,
their decisions, resubmission, reassignment, expiry), ``_attachments`` (documents)."""

from lending.applications.services._approval import (
    application_investigate,
    application_investigation_check,
    application_resubmit,
    applications_expire,
    approval_task_decide,
    approval_task_reassign,
    approval_terms_check,
    conflicted_staff_ids,
    draw_pick,
    draw_replay,
    sla_hours,
)
from lending.applications.services._attachments import application_attachment_add
from lending.applications.services._origination import (
    ApplicationConflict,
    application_check,
    application_contract_prepare,
    application_contract_signed,
    application_create,
    application_submit,
    application_withdraw,
)

__all__ = [
    "ApplicationConflict",
    "application_attachment_add",
    "application_check",
    "application_contract_prepare",
    "application_contract_signed",
    "application_create",
    "application_investigate",
    "application_investigation_check",
    "application_resubmit",
    "application_submit",
    "application_withdraw",
    "applications_expire",
    "approval_task_decide",
    "approval_task_reassign",
    "approval_terms_check",
    "conflicted_staff_ids",
    "draw_pick",
    "draw_replay",
    "sla_hours",
]
