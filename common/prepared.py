"""Server-side prepared statements for the hot one-row lookups of an online decision.

Planning a lookup of a few joins or subqueries costs PostgreSQL more than running it (the
household features: 0.6 ms to plan, 0.4 ms to run; the risk lists: 0.55 against 0.06; the
applicant's context counts: 0.37 ms a round trip unprepared against 0.12 prepared — all
measured). A statement is prepared once per connection, under a fixed name, and executed after
that. A connection pooler that resets sessions between transactions (``DISCARD ALL``) drops
prepared statements: such a deployment sets ``RISK_PREPARED_FEATURE_QUERY=false`` and every
statement is sent plain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.conf import settings
from django.db import connection

_prepared_on: set[tuple[str, int, int]] = set()  # (name, id of the DB-API connection, pid)
_NUMBERED = re.compile(r"\$(\d+)")


def prepared_execute(
    cursor, *, name: str, sql: str, params: Sequence, types: Sequence[str] = ()
) -> None:
    """Execute ``sql`` (placeholders ``$1`` … ``$n``; a literal ``%`` written once) with
    ``params`` as the prepared statement ``name``. ``types`` fixes the parameters' types where
    PostgreSQL could not infer them from the statement. The results are left on ``cursor``."""
    if not settings.RISK_PREPARED_FEATURE_QUERY:
        plain = _NUMBERED.sub(lambda m: f"%({m[1]})s", sql.replace("%", "%%"))
        cursor.execute(plain, {str(n): value for n, value in enumerate(params, start=1)})
        return
    raw = connection.connection
    key = (name, id(raw), raw.info.backend_pid)
    if key not in _prepared_on:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [name])
        if not cursor.fetchone()[0]:
            typed = f"({', '.join(types)})" if types else ""
            cursor.execute(f"PREPARE {name}{typed} AS {sql}")
        _prepared_on.add(key)
    if params:
        cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})", list(params))
    else:
        cursor.execute(f"EXECUTE {name}")
