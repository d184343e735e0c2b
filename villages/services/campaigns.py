"""Whole-village credit campaigns."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from org.models import Staff
from villages.models import Campaign, Village

# Which status may follow which; anything else is refused.
_TRANSITIONS = {
    Campaign.Status.PLANNED: {Campaign.Status.IN_PROGRESS, Campaign.Status.CANCELLED},
    Campaign.Status.IN_PROGRESS: {Campaign.Status.COMPLETED, Campaign.Status.CANCELLED},
    Campaign.Status.COMPLETED: set(),
    Campaign.Status.CANCELLED: set(),
}


def campaign_create_check(
    *,
    village: Village,
    starts_on: datetime.date,
    ends_on: datetime.date,
    lead: Staff | None = None,
) -> None:
    """Raise ``ValidationError`` unless such a campaign may start. Writes nothing: the admin form
    calls it so a refusal shows on the form."""
    _check_dates_and_lead(bank_id=village.bank_id, starts_on=starts_on, ends_on=ends_on, lead=lead)
    active = Campaign.objects.filter(
        village=village, status__in=[Campaign.Status.PLANNED, Campaign.Status.IN_PROGRESS]
    )
    if active.exists():
        raise ValidationError({"village": f"{village.name}已有未结束的整村授信活动"})


def campaign_update_check(
    *,
    campaign: Campaign,
    starts_on: datetime.date,
    ends_on: datetime.date,
    lead: Staff | None = None,
) -> None:
    """Raise ``ValidationError`` unless ``campaign`` may take these dates and lead (writes
    nothing; see ``campaign_create_check``)."""
    _check_dates_and_lead(bank_id=campaign.bank_id, starts_on=starts_on, ends_on=ends_on, lead=lead)


def _check_dates_and_lead(
    *, bank_id: int, starts_on: datetime.date, ends_on: datetime.date, lead: Staff | None
) -> None:
    if ends_on < starts_on:
        raise ValidationError({"ends_on": "计划结束日期不能早于开始日期"})
    if lead is not None and lead.bank_id != bank_id:
        raise ValidationError({"lead": "负责人须为本行社员工"})


@transaction.atomic
def campaign_create(
    *,
    village: Village,
    name: str,
    starts_on: datetime.date,
    ends_on: datetime.date,
    lead: Staff | None = None,
) -> Campaign:
    campaign_create_check(village=village, starts_on=starts_on, ends_on=ends_on, lead=lead)
    return Campaign.objects.create(
        village=village,
        bank_id=village.bank_id,
        name=name,
        starts_on=starts_on,
        ends_on=ends_on,
        lead=lead,
    )


@transaction.atomic
def campaign_update(
    *,
    campaign: Campaign,
    name: str,
    starts_on: datetime.date,
    ends_on: datetime.date,
    lead: Staff | None = None,
) -> Campaign:
    """Rename, re-date or hand over a campaign (its village and status stay; the change is
    audited)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    campaign_update_check(campaign=campaign, starts_on=starts_on, ends_on=ends_on, lead=lead)
    campaign.name = name
    campaign.starts_on = starts_on
    campaign.ends_on = ends_on
    campaign.lead = lead
    campaign.save(update_fields=["name", "starts_on", "ends_on", "lead"])
    return campaign


@transaction.atomic
def campaign_transition(*, campaign: Campaign, to_status: str) -> Campaign:
    """Move the campaign on; the row is locked and the change is audited (who, when, from, to)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    allowed = _TRANSITIONS[Campaign.Status(campaign.status)]
    if to_status not in allowed:
        raise ValidationError(
            {
                "status": f"活动状态不能从“{campaign.get_status_display()}”变为"
                f"“{Campaign.Status(to_status).label}”"
            }
        )
    campaign.status = to_status
    campaign.save(update_fields=["status"])
    return campaign


def campaign_delete_check(*, campaign: Campaign) -> None:
    """Raise ``ValidationError`` unless ``campaign`` may be deleted (writes nothing).

    A campaign under way is what account managers are working to: its visits, archives and
    ratings are counted against it, so it is completed or cancelled, never made to vanish."""
    if campaign.status == Campaign.Status.IN_PROGRESS:
        raise ValidationError(
            {"status": f"“{campaign.name}”正在进行中，不能删除；请先完成或取消该活动"}
        )


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign that is not under way (the row is locked so a concurrent start cannot
    slip in between the check and the delete; the delete is audited)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    campaign_delete_check(campaign=campaign)
    campaign.delete()
