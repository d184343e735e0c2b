"""Reading a back-test's stored decisions: the period's decisions in chunks of consecutive ids,
one ``COPY … TO STDOUT (FORMAT binary)`` each, every selected value made fixed width in SQL
(codes and amounts as integers, NULL as -1 or NaN, the product chain and provider problems
padded to the period's longest), so a chunk is one ``np.frombuffer`` with a record dtype whose
last field is the snapshot matrix (little-endian float64 in the layout's order)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from django.db import connection

from risk.decisions.models import Decision, DecisionKind
from risk.decisions.report_models import Backtest

NONE = -1  # an integer column's "no value" (amounts and rates are never negative)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def period_sql(backtest: Backtest) -> tuple[str, dict]:
    """The decisions a back-test reads: its period and scope, what-ifs never (a trial)."""
    sql = (
        "d.decision_date >= %(start)s AND d.decision_date <= %(end)s "
        f"AND d.kind <> {int(DecisionKind.WHAT_IF)}"
    )
    params: dict = {"start": backtest.period_from, "end": backtest.period_to}
    if backtest.bank_id is not None:
        sql += " AND d.bank_id = %(bank)s"
        params["bank"] = backtest.bank_id
    if backtest.product_id is not None:
        sql += " AND d.product_id = %(product)s"
        params["product"] = backtest.product_id
    return sql, params


@dataclass(frozen=True)
class Part:
    """Decisions of the period sharing a layout and a snapshot length (one record width)."""

    layout_id: int
    length: int  # bytes of each snapshot
    count: int
    first_id: int
    last_id: int
    chain_width: int
    problems_width: int


def parts(where: str, params: dict) -> list[Part]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT d.layout_id, length(d.inputs), count(*), min(d.id), max(d.id),
                   max(cardinality(d.product_chain)), max(cardinality(d.provider_problems))
            FROM {Decision._meta.db_table} d WHERE {where}
            GROUP BY 1, 2 ORDER BY 1, 2
            """,
            params,
        )
        return [Part(*(int(v or 0) for v in row)) for row in cursor.fetchall()]


def _columns(part: Part, width: int) -> list[tuple[str, str, object]]:
    """(name, SQL, dtype) of each selected value: all fixed width, none NULL."""
    return [
        ("id", "d.id", ">i8"),
        ("bank", "d.bank_id::int8", ">i8"),
        (
            "outcome",
            "(CASE d.outcome WHEN 'approve' THEN 0 WHEN 'refer' THEN 1 ELSE 2 END)::int2",
            ">i2",
        ),
        ("limit", f"coalesce(round(d.limit_amount * 100)::int8, {NONE})", ">i8"),
        ("rate", f"coalesce(round(d.rate * 10000)::int8, {NONE})", ">i8"),
        ("pd", f"coalesce(round(d.probability_of_default * 1000000)::int8, {NONE})", ">i8"),
        ("requested", "coalesce(d.requested_amount::float8, 'NaN')", ">f8"),
        ("lpr", f"coalesce(round(d.lpr * 10000)::int8, {NONE})", ">i8"),
        ("scorecard", "coalesce(d.scorecard_id, 0)::int8", ">i8"),
        ("list_level", "d.list_level::int2", ">i2"),
        ("list_override", "d.list_override::int::int2", ">i2"),
        ("subject", "d.subject_problem::int2", ">i2"),
        *(
            (f"chain{i}", f"coalesce(d.product_chain[{i + 1}], 0)::int8", ">i8")
            for i in range(part.chain_width)
        ),
        *(
            (f"problem{i}", f"coalesce(d.provider_problems[{i + 1}], 0)::int2", ">i2")
            for i in range(part.problems_width)
        ),
        ("inputs", "d.inputs", ("<f8", (width,))),
    ]


def _record_dtype(columns) -> np.dtype:
    """A binary COPY tuple: a field count, then each field as its length and its bytes."""
    fields: list = [("_fields", ">i2")]
    for i, (name, _sql, dtype) in enumerate(columns):
        fields.append((f"_length{i}", ">i4"))
        fields.append((name, dtype))
    return np.dtype(fields)


def chunk_read(
    *, where: str, params: dict, part: Part, width: int, first: int, last: int
) -> np.ndarray:
    """The decisions of ``part`` with ids in ``[first, last]``: one COPY, one record array."""
    columns = _columns(part, width)
    select = ", ".join(sql for _, sql, _ in columns)
    with connection.cursor() as cursor:
        query = cursor.mogrify(
            f"SELECT {select} FROM {Decision._meta.db_table} d WHERE {where} "
            "AND d.layout_id = %(layout)s AND length(d.inputs) = %(length)s "
            "AND d.id BETWEEN %(first)s AND %(last)s",
            {
                **params,
                "layout": part.layout_id,
                "length": part.length,
                "first": first,
                "last": last,
            },
        ).decode()
        buffer = io.BytesIO()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT (FORMAT binary)", buffer)
    return copy_records(buffer.getbuffer(), _record_dtype(columns), len(columns))


def copy_records(raw, dtype: np.dtype, fields: int) -> np.ndarray:
    """The tuples of a binary COPY whose every field has a fixed width, as records."""
    if bytes(raw[: len(_COPY_SIGNATURE)]) != _COPY_SIGNATURE:
        raise ValueError("COPY 输出格式不符")
    extension = int.from_bytes(bytes(raw[15:19]), "big")
    start = 19 + extension
    body = len(raw) - start - 2  # the trailer: a field count of -1
    if body % dtype.itemsize:
        raise ValueError("COPY 输出长度与记录宽度不符")
    records = np.frombuffer(raw, dtype=dtype, count=body // dtype.itemsize, offset=start)
    if len(records) and (records["_fields"] != fields).any():
        raise ValueError("COPY 输出字段数不符")
    return records


def ranges(part: Part, size: int) -> list[tuple[int, int]]:
    """Id ranges of about ``size`` decisions each (ids of a period are near consecutive)."""
    chunks = max(1, -(-part.count // size))
    bounds = np.linspace(part.first_id, part.last_id + 1, chunks + 1).astype(np.int64)
    return [(int(bounds[i]), int(bounds[i + 1]) - 1) for i in range(chunks)]


def primary_reasons(ids: np.ndarray) -> dict[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, primary_reason FROM {Decision._meta.db_table} WHERE id = ANY(%s)",
            [ids.tolist()],
        )
        return dict(cursor.fetchall())
