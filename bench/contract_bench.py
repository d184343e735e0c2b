"""Contracts: rendering and hashing one contract PDF (goal p50 ≤ 300 ms), and for the record the
bank's seal and one RFC 3161 timestamp from the sandbox TSA.

Rendered from the default template with a demo application's terms (the made-up preview values
when the demo has no approved application). Baseline: WeasyPrint rendering a one-line page in the
same embedded CJK font, the least any contract PDF costs; the ratio shows what the contract's
two pages of clauses and tables add.
"""

from __future__ import annotations

import hashlib
import statistics
import time

from django.utils import timezone


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _time(fn, repeat: int) -> list[float]:
    fn()  # warm: WeasyPrint's first call loads the font and its stylesheets
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def _row(name: str, value: float, goal: float | None, baseline: float) -> dict:
    return {
        "name": name,
        "value": round(value, 3),
        "unit": "ms",
        "goal": goal,
        "baseline": round(baseline, 3),
        "ratio": round(value / baseline, 2) if baseline else 0.0,
    }


def run(*, quick: bool) -> list[dict]:
    from lending.applications.models import APPROVED_STATUSES, Application, ApplicationStatus
    from lending.contracts import rendering
    from lending.contracts.sealing import contract_sealer
    from lending.contracts.services import contract_template_default_ensure
    from lending.contracts.timestamps import timestamp_digest

    repeat = 10 if quick else 40
    template = contract_template_default_ensure()
    application = (
        Application.objects.filter(
            status__in=[
                *APPROVED_STATUSES,
                ApplicationStatus.CONTRACT_PENDING,
                ApplicationStatus.CONTRACTED,
            ]
        )
        .select_related("bank", "applicant__household", "product", "line")
        .order_by("pk")
        .first()
    )
    if application is not None:
        terms = rendering.contract_terms(
            application=application,
            number="HT-BENCH-1",
            template=template,
            rendered_at=timezone.now(),
        )
    else:
        terms = rendering.sample_terms(template)

    def render_and_hash():
        pdf = rendering.render_pdf(body=template.body, title=template.title, terms=terms)
        hashlib.sha256(pdf).hexdigest()
        return pdf

    one_line = rendering.document_html("<p>借款人：张示例</p>", "baseline")
    contract_ms = _p50(_time(render_and_hash, repeat))
    baseline_ms = _p50(_time(lambda: rendering.html_to_pdf(one_line), repeat))
    rows = [_row("contract_render_hash_p50", contract_ms, 300.0, baseline_ms)]

    if application is not None:
        pdf = render_and_hash()
        seal_ms = _p50(
            _time(
                lambda: contract_sealer().seal(
                    bank=application.bank, pdf=pdf, reason="bench", location="bench"
                ),
                repeat,
            )
        )
        rows.append(_row("contract_seal_p50", seal_ms, None, baseline_ms))
    digest = hashlib.sha256(b"bench").digest()
    stamp_ms = _p50(_time(lambda: timestamp_digest(digest), repeat))
    rows.append(_row("evidence_timestamp_p50", stamp_ms, None, baseline_ms))
    return rows
