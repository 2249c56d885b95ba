"""The ``coachline`` command.

``coachline infra up|down|jars`` and ``coachline token`` live here; each service adds its own
subcommands (``coachline intake translate``, ``coachline kpi rebuild`` ...) through the
``coachline.commands`` entry-point group: the entry's name is the subcommand, its value a
``main(argv: list[str]) -> int``. So the shared package never imports a service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any


def token(argv: list[str]) -> int:
    """Print a bearer token signed by the local development identity provider."""
    from coachline.auth import Principal, Role, mint_token
    from coachline.devstack import dev_identity
    from coachline.settings import ServiceSettings

    parser = argparse.ArgumentParser(prog="coachline token", description=token.__doc__)
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--role", action="append", choices=[r.value for r in Role], required=True)
    parser.add_argument("--subject", default="dev-user")
    parser.add_argument("--agent-id")
    parser.add_argument("--team", action="append", default=[])
    parser.add_argument("--unit", action="append", default=[])
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="seconds the token stays valid")
    args = parser.parse_args(argv)
    settings = ServiceSettings()
    key, _ = dev_identity()
    principal = Principal(subject=args.subject, tenant_id=args.tenant, roles=frozenset(args.role),
                          agent_id=args.agent_id, teams=frozenset(args.team), units=frozenset(args.unit))
    print(mint_token(key, issuer=settings.oidc_issuer, audience=settings.oidc_audience, principal=principal,
                     ttl_s=args.ttl))
    return 0


def infra(argv: list[str]) -> int:
    from coachline.devstack import main as devstack

    devstack(argv)
    return 0


def migrate_command(service: str, settings: Callable[[], Any], migrations: Path) -> Callable[[list[str]], int]:
    """``coachline <service> migrate``: create the service's schema and apply the migrations it lacks, then exit.

    The Helm chart runs it as a pre-install and pre-upgrade Job, so a new version's schema is in place
    before its pods start; the services still migrate at start-up (a no-op by then).
    """

    def run(argv: list[str]) -> int:
        from coachline.persistence import create_pool, migrate

        argparse.ArgumentParser(prog=f"coachline {service} migrate", description=migrate_command.__doc__).parse_args(
            argv)
        chosen = settings()

        async def apply() -> list[str]:
            pool = await create_pool(chosen.database_url, chosen.db_schema, min_size=1, max_size=1)
            try:
                return await migrate(pool, chosen.db_schema, migrations)
            finally:
                await pool.close()

        print(json.dumps({"schema": chosen.db_schema, "applied": asyncio.run(apply())}))
        return 0

    return run


def dispatch(service: str, subcommands: dict[str, Callable[[list[str]], int]]) -> Callable[[list[str]], int]:
    """A service's ``coachline <service> ...`` entry point over its subcommands."""

    def run(argv: list[str]) -> int:
        if not argv or argv[0] not in subcommands:
            print(f"usage: coachline {service} {{{','.join(subcommands)}}} ...", file=sys.stderr)
            return 2
        return subcommands[argv[0]](argv[1:])

    return run


def commands() -> dict[str, Callable[[list[str]], int]]:
    found: dict[str, Callable[[list[str]], int]] = {"infra": infra, "token": token}
    for entry in entry_points(group="coachline.commands"):
        found.setdefault(entry.name, entry.load())
    return found


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    available = commands()
    if not args or args[0] not in available:
        print(f"usage: coachline {{{','.join(sorted(available))}}} ...", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(available[args[0]](args[1:]))
