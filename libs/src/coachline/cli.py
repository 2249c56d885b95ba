"""The ``coachline`` command."""

from __future__ import annotations

import sys


def main() -> None:
    from coachline.devstack import main as devstack

    args = sys.argv[1:]
    if args[:1] == ["infra"]:
        devstack(args[1:])
        return
    print("usage: coachline infra {up,down,jars}", file=sys.stderr)
    raise SystemExit(2)
