"""``make bench``: run every benchmark, print a table, write ``bench/results.json``.

Each benchmark returns rows ``{name, value, unit, goal, baseline, ratio}`` where ``baseline`` is
a raw lower bound measured in the same run (e.g. the bare SQL the endpoint needs), so a slow
machine moves both numbers together. ``--quick`` runs smaller sizes in well under two minutes and
writes ``bench/results.quick.json`` instead, leaving the committed full-run file alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Measured as production runs: DEBUG off. With DEBUG on, Django keeps every query's text in
    # ``connection.queries`` (a tenth of an online decision's time), which no deployment pays.
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("seed_demo", verbosity=0)

    from bench import (
        api_bench,
        backtest_bench,
        cob_bench,
        contract_bench,
        decision_bench,
        import_bench,
        origination_bench,
        scoring_bench,
        servicing_bench,
    )

    rows = []
    for module in (
        api_bench,
        import_bench,
        scoring_bench,
        decision_bench,
        backtest_bench,
        contract_bench,
        origination_bench,
        servicing_bench,
        cob_bench,
    ):
        rows.extend(module.run(quick=args.quick))

    width = max(len(row["name"]) for row in rows)
    print(
        f"{'benchmark'.ljust(width)}  {'value':>10}  {'unit':<6}  {'goal':>8}  {'baseline':>9}  {'ratio':>6}"
    )
    for row in rows:
        print(
            f"{row['name'].ljust(width)}  {row['value']:>10.3f}  {row['unit']:<6}  "
            f"{row['goal'] if row['goal'] is not None else '-':>8}  {row['baseline']:>9.3f}  {row['ratio']:>6.2f}"
        )
    out = Path(__file__).with_name("results.quick.json" if args.quick else "results.json")
    out.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten {out}")
    # A row with ``higher_is_better`` (a throughput) fails below its goal, every other above it.
    failed = [
        row["name"]
        for row in rows
        if row["goal"] is not None
        and (
            row["value"] < row["goal"]
            if row.get("higher_is_better")
            else row["value"] > row["goal"]
        )
    ]
    if failed:
        print("over goal: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
