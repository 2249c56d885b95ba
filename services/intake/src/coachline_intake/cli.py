"""``coachline intake ...``: translate a file without Kafka, or ship a queue_log to intake.

``coachline intake translate --source asterisk /var/log/asterisk/queue_log`` prints the canonical
events (CloudEvents structured JSON, one per line) the file would produce, and each rejected record
with its reason on stderr; the exit code is 1 when any record was rejected.

``coachline intake ship --url http://intake:8001 --tenant acme /var/log/asterisk/queue_log`` follows
a queue_log as Asterisk appends to it and posts new lines in signed batches (secret from
``INTAKE_SHIP_SECRET``), so a PBX without webhooks can feed intake.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from coachline.envelope import CloudEvent
from coachline.signing import signature_headers
from coachline_intake.domain.sources import ADAPTERS
from coachline_intake.domain.translate import BodyRejected, UnsupportedMedia, split_body
from coachline_intake.service import context_for, translate_records
from coachline_intake.settings import Settings

GUESSED_MEDIA = {".ndjson": "application/x-ndjson", ".jsonl": "application/x-ndjson", ".json": "application/json",
                 ".form": "application/x-www-form-urlencoded"}


def structured(event: CloudEvent) -> dict[str, Any]:
    """An event as CloudEvents structured JSON, the way ``translate`` prints it."""
    return {"specversion": "1.0", "id": event.id, "source": event.source, "type": event.type,
            "tenantid": event.tenant_id, "time": event.time.isoformat().replace("+00:00", "Z"),
            "subject": event.subject, "data": event.data.model_dump(mode="json")}


def media_for(source: str, path: Path, given: str | None) -> str:
    if given:
        return given
    if "text" in ADAPTERS[source].shapes:
        return "text/plain"
    return GUESSED_MEDIA.get(path.suffix.lower(), "application/x-ndjson")


def translate(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="coachline intake translate",
                                     description="Print the canonical events a file of platform records produces.")
    parser.add_argument("--source", required=True, choices=sorted(ADAPTERS))
    parser.add_argument("--tenant", default="demo", help="whose records these are (pseudonyms use its key)")
    parser.add_argument("--content-type", help="the media type the file would be posted with (guessed otherwise)")
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    adapter = ADAPTERS[args.source]
    try:
        records = split_body(args.file.read_bytes(), media_for(args.source, args.file, args.content_type), adapter)
    except (UnsupportedMedia, BodyRejected) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    result = translate_records(adapter, records, context_for(Settings(), args.tenant))
    for outcome in result.outcomes:
        for event in outcome.events:
            print(json.dumps(structured(event), separators=(",", ":")))
        if outcome.rejection is not None:
            field = f" ({outcome.rejection.field})" if outcome.rejection.field else ""
            print(f"line {outcome.record.line}: rejected{field}: {outcome.rejection.reason}", file=sys.stderr)
    return 1 if result.rejected else 0


def ship(argv: list[str]) -> int:
    import httpx

    parser = argparse.ArgumentParser(prog="coachline intake ship",
                                     description="Follow an Asterisk queue_log and post new lines to intake.")
    parser.add_argument("--url", default="http://127.0.0.1:8001")
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--from-start", action="store_true", help="post the lines already in the file too")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--once", action="store_true", help="post what is there and stop")
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    secret = os.environ.get("INTAKE_SHIP_SECRET")
    if not secret:
        print("INTAKE_SHIP_SECRET (the tenant's whsec_ secret for the asterisk source) is not set", file=sys.stderr)
        return 2
    with httpx.Client(timeout=30) as client, args.file.open("rb") as log:
        if not args.from_start:
            log.seek(0, os.SEEK_END)
        pending = b""
        while True:
            pending += log.read()
            complete, _, pending = pending.rpartition(b"\n")
            lines = [line for line in complete.split(b"\n") if line.strip()]
            for start in range(0, len(lines), args.batch):
                body = b"\n".join(lines[start:start + args.batch])
                while True:
                    headers = {"content-type": "text/plain", "coachline-tenant": args.tenant,
                               **signature_headers(secret, f"ship-{uuid.uuid4()}", body)}
                    try:
                        answer = client.post(f"{args.url}/v1/sources/asterisk/events", content=body, headers=headers)
                    except httpx.HTTPError as exc:
                        print(f"intake did not answer ({type(exc).__name__}); retrying", file=sys.stderr)
                        time.sleep(2)
                        continue
                    if answer.status_code in (429, 503):
                        time.sleep(float(answer.headers.get("retry-after", "2")))
                        continue
                    if answer.status_code not in (202, 422):
                        print(f"intake refused the batch: {answer.status_code} {answer.text[:500]}", file=sys.stderr)
                        return 1
                    break
            if args.once:
                return 0
            time.sleep(1)


def main(argv: list[str]) -> int:
    commands = {"translate": translate, "ship": ship}
    if not argv or argv[0] not in commands:
        print(f"usage: coachline intake {{{','.join(commands)}}} ...", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])
