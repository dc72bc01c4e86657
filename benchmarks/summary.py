"""Print the figures the benchmarks kept (``$VENVLOCK_BENCH_SUMMARY``) as one Markdown table.

    python benchmarks/summary.py FILE

``nox -s bench`` runs every benchmark with the variable set to one file, then this.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as file:
        lines = [json.loads(line) for line in file if line.strip()]
    columns = ("benchmark", "figure", "venvlock", "anchor", "ratio", "target", "load")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for line in lines:
        print("| " + " | ".join(str(line.get(column, "")).replace("|", "/") for column in columns) + " |")


if __name__ == "__main__":
    main()
