"""Households with every kind of gap and edge the feature code must handle, built through the
villages services (so head pointers, banks and archives are exactly what production writes)."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

from org.models import Staff
from villages.demo import make_id_number
from villages.models import ListColour
from villages.services import (
    archive_upsert,
    household_upsert,
    member_upsert,
    peer_review_evaluator_add,
    peer_review_round_close,
    peer_review_round_open,
    peer_review_vote_cast,
)

TODAY = datetime.date(2026, 11, 20)


def _household(village, staff, sequence: int, people, archives=()):
    household, _ = household_upsert(
        household_id=uuid.uuid4(), village=village, actor=staff, address=f"测试{sequence}号"
    )
    for n, (relation, birth, education, health) in enumerate(people):
        member_upsert(
            member_id=uuid.uuid4(),
            household=household,
            name=f"成员{sequence}-{n}",
            id_number=make_id_number("141002", birth, sequence * 10 + n, n % 2 == 0),
            relation=relation,
            education=education,
            health=health,
        )
    for survey_date, figures in archives:
        archive_upsert(
            archive_id=uuid.uuid4(),
            household=household,
            survey_date=survey_date,
            figures=figures,
            surveyed_by=staff,
        )
    return household


def varied_households(village) -> dict:
    """Business, urban, bare, zero-asset and re-surveyed households in ``village``."""
    staff = Staff.objects.get(user__username="b1_admin")
    d = datetime.date
    made = {
        "business": _household(
            village,
            staff,
            501,
            [
                ("head", d(1980, 6, 1), "bachelor", "good"),
                ("spouse", d(1982, 2, 1), "senior", "good"),
                ("parent", d(1950, 1, 1), "none", "disabled"),
                ("child", d(2012, 1, 1), "primary", "good"),
                # turns 16 on TODAY: counts as labour
                ("child", d(2010, 11, 20), "junior", "good"),
            ],
            [
                (
                    d(2026, 9, 1),
                    {
                        "has_business": True,
                        "business_industry": "retail",
                        "income_business": "120000",
                        "income_wages": "20000",
                        "annual_expenses": "40000",
                        "housing_value": "300000",
                        "deposits": "50000",
                        "debt_total": "70000",
                        "has_social_security": True,
                    },
                )
            ],
        ),
        "urban": _household(
            village,
            staff,
            502,
            [("head", d(1990, 5, 5), "college", "good"), ("spouse", d(1991, 5, 5), "", "")],
            [
                (
                    d(2025, 11, 20),
                    {"income_wages": "60000", "income_other": "5000", "housing_value": "200000"},
                )
            ],
        ),
        "bare": _household(village, staff, 503, []),
        "zero_assets": _household(
            village,
            staff,
            504,
            [("head", d(1966, 11, 21), "junior", "poor")],  # 59 until tomorrow; poor health
            [(d(2026, 1, 1), {"land_contracted_mu": "0"})],
        ),
        "resurveyed": _household(
            village,
            staff,
            505,
            [("head", d(1975, 3, 3), "primary", "good")],
            [
                (d(2024, 5, 1), {"land_contracted_mu": "50", "income_crops": "90000"}),
                (
                    d(2026, 5, 1),
                    {
                        "land_contracted_mu": "8",
                        "land_leased_mu": "4.5",
                        "livestock_heads": 30,
                        "income_crops": "20000",
                        "income_livestock": "15000",
                        "annual_expenses": "10000",
                        "machinery_value": "12000",
                        "debt_total": "3000",
                    },
                ),
            ],
        ),
    }
    return made


def peer_review(village, closed_rounds: list[dict], open_votes: dict) -> None:
    """One closed round per ``{household: [colour, …]}`` (in order), then one left open."""
    staff = Staff.objects.get(user__username="b1_admin")
    rounds = [(votes, True) for votes in closed_rounds] + [(open_votes, False)]
    for number, (votes, close) in enumerate(rounds):
        round = peer_review_round_open(village=village, title=f"评议{number}", opened_by=staff)
        evaluators = [
            peer_review_evaluator_add(
                round=round,
                name=f"评议员{k}",
                kind="elder",
                username=f"pr_test_{village.pk}_{k}",
                password=None,
            )
            for k in range(3)
        ]
        for household, colours in votes.items():
            for evaluator, colour in zip(evaluators, colours, strict=False):
                peer_review_vote_cast(
                    evaluator=evaluator,
                    household=household,
                    colour=colour,
                    reason="" if colour in (ListColour.GREEN, ListColour.WHITE) else "有传闻",
                    suggested_amount=Decimal("50000") if colour != ListColour.BLACK else None,
                )
        if close:
            peer_review_round_close(round=round, closed_by=staff)
