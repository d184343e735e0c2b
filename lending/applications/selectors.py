"""Reads of applications: what a reviewer sees (the decision, the archive, the investigation
and its photos, the peer review, earlier levels' opinions) and the reviewers' queues."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from lending.applications.models import Application, ApprovalTask, TaskStatus
from villages.models import PeerReviewResult
from villages.selectors import latest_archive


def waited_text(since: datetime.datetime, now: datetime.datetime | None = None) -> str:
    """How long an item has waited, as a reviewer reads it: 35分钟, 5小时, 2天3小时."""
    seconds = max(0, int(((now or timezone.now()) - since).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时"
    return f"{max(rest // 60, 1)}分钟"


def is_overdue(task: ApprovalTask, sla_hours: int, now: datetime.datetime | None = None) -> bool:
    if task.status != TaskStatus.OPEN:
        return False
    return (now or timezone.now()) - task.opened_at > datetime.timedelta(hours=sla_hours)


def approval_tasks_for_queue(queryset: QuerySet) -> QuerySet:
    """A queue's rows with what each line shows, in one query whatever the page size."""
    return queryset.select_related(
        "application__applicant", "application__product", "assignee"
    ).order_by("opened_at")


@dataclass(frozen=True)
class ArchiveFacts:
    survey_date: datetime.date
    land_mu: str
    annual_income: str
    annual_expenses: str
    debt_total: str
    deposits: str


def archive_facts(household) -> ArchiveFacts | None:
    archive = latest_archive(household)
    if archive is None:
        return None
    income = sum(
        (
            archive.income_crops,
            archive.income_livestock,
            archive.income_wages,
            archive.income_business,
            archive.income_subsidies,
            archive.income_other,
        )
    )
    return ArchiveFacts(
        survey_date=archive.survey_date,
        land_mu=f"{archive.land_contracted_mu + archive.land_leased_mu:.1f}",
        annual_income=f"{income:.2f}",
        annual_expenses=f"{archive.annual_expenses:.2f}",
        debt_total=f"{archive.debt_total:.2f}",
        deposits=f"{archive.deposits:.2f}",
    )


def peer_review_latest(household) -> PeerReviewResult | None:
    return (
        PeerReviewResult.objects.filter(household=household)
        .select_related("round")
        .order_by("-round_id")
        .first()
    )


def application_tasks(application: Application) -> list[ApprovalTask]:
    return list(
        ApprovalTask.objects.filter(application=application)
        .select_related("assignee")
        .order_by("opened_at", "id")
    )


def investigation_photos(application: Application) -> list:
    if application.investigation_id is None:
        return []
    return list(application.investigation.photos.order_by("kind", "captured_at"))
