"""The `heart` command line.

Sub-commands that need no database (triage, explain, programs) never import Django,
so a million-call batch starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import os
import sys

# Only argparse lives at the top of the cli modules, on purpose: each command imports
# what it needs (Polars, rich, Django …) inside its own function, so `heart triage` on a
# million rows starts without paying for the rest. Keep new imports inside the commands.
from heart.cli import live, plan, report, triage


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heart", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    triage.add_parsers(sub)  # triage, explain, programs
    live.add_demo_parser(sub)  # demo
    plan.add_parser(sub)  # plan …
    report.add_parser(sub)  # report (monthly public report)
    live.add_parsers(sub)  # apiclient, serve, manage
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """Console-script entry point."""
    code = main()
    if len(sys.argv) > 1 and sys.argv[1] == "triage":
        # Everything is written and closed; skip tearing down a million-row heap, which
        # would add a tenth of a second to every batch run.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
