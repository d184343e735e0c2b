"""Back-testing (回测): a candidate strategy version run over the decisions stored in a period,
from their input snapshots, and compared side by side with what was decided.

What the candidate reads is what each decision stored: the features and external answers of
its snapshot, its list level and override, its applicant problem, its requested amount, the
scorecard that rated it (with its points table), the providers' problems it met and the LPR of
its day; the product terms are those of its stored product version chain. What the candidate
brings is its own flow, the rule sets published now, and the limit and pricing model versions in
force on the back-test's date (``as_of``). So the active version back-tested against its own
decisions changes nothing, and a draft's report shows what it alone would change. A decision the
stored flow rejected before asking for external data has no answers in its snapshot: a
candidate that would have asked runs its rules on those features missing.

The run is column-wise, never a replay per row: ``snapshots`` reads the period's decisions in
chunks by binary COPY into record arrays, ``compare`` runs the candidate over each chunk and
counts both sides, ``services`` orchestrates and writes the report (the changed decisions up to
``CHANGES_LISTED``, counted beyond).
"""

from risk.decisions.backtest.compare import why_text
from risk.decisions.backtest.services import (
    BACKTEST_PERMISSION,
    CHUNK_SIZE,
    backtest_check,
    backtest_create,
    backtest_fail,
    backtest_run,
)

__all__ = [
    "BACKTEST_PERMISSION",
    "CHUNK_SIZE",
    "backtest_check",
    "backtest_create",
    "backtest_fail",
    "backtest_run",
    "why_text",
]
