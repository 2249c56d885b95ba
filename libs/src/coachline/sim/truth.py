"""Ground truth: every KPI of KPI_DEFINITIONS.md per scope and window, from the simulation's own records.

Written independently of the KPI service (it reads the simulator's records, not the events, and
shares no code with the projection) so a reference test can compare the two.

File format (JSON, ``"format": "coachline-sim-ground-truth/1"``)::

    {
      "format": "coachline-sim-ground-truth/1",
      "seed": 7, "start": "2026-11-23T00:00:00Z", "end": "2026-11-24T00:00:00Z",
      "settings": {"sl_threshold_s": 20, "short_abandon_s": 5, "fcr_window_days": 7, "min_sample": 5},
      "events": {"total": 9991, "by_type": {"cc.interaction.offered.v1": 1297, ...}},
      "tenants": {
        "demo": {
          "time_zone": "UTC",
          "figures": [
            {"scope": "queue", "scope_id": "billing", "window": "day:2026-11-23", "provisional": true,
             "sums": {"offered": 389, "answered_in_threshold": 350, ...},
             "figures": {"service_level": "0.912466", "asa_s": "6.512", ...}},
            ...
          ],
          "now": {"at": "2026-11-24T00:00:00Z", "contacts_waiting": {"billing": 0, ...},
                  "longest_wait_s": {"billing": "0.000", ...},
                  "agents_by_state": {"tenant": {"demo": {"available": 3, ...}}, "team": {...}}}
        }
      }
    }

Windows, all in the tenant's time zone: ``15m:YYYY-MM-DDTHH:MM`` (interval start), ``day:YYYY-MM-DD``,
``week:YYYY-MM-DD`` (the ISO week's Monday) and ``30d:YYYY-MM-DD`` (the 30 days ending with that day,
one per simulated day). A window is listed when any of its sums is non-zero.

Each fact counts in the window of its own moment: offered at offer, answered (and its wait, and
whether it was within the threshold) at answer, abandoned at abandon, a handled contact (talk, hold,
after-contact work, transfer, resolution, sale, FCR) at its wrap-up, a survey answer when given, state
time split at interval boundaries. A state an agent is still in when the run ends counts up to the end:
the figures are as of that moment, and time in a state so far is time in it. Scopes: offered and
abandoned figures have queue and tenant scope (no agent has touched the contact yet); answered and
handled figures also agent and team (the answering / wrapping-up agent and their team); occupancy has
agent, team and tenant scope; survey figures count for the agent the survey names, their team, the
contact's queue and the tenant.

Figures (decimal strings, ratios to 6 places, seconds to 3; ``null`` when the denominator is below
``min_sample``, "not enough data"): ``offered``, ``answered``, ``abandoned``, ``short_abandoned``,
``service_level`` (answered within threshold ÷ (offered - short abandons)), ``service_level_variant``
(÷ (answered + abandoned after the threshold)), ``asa_s``, ``abandon_rate``, ``handled``, ``aht_s``,
``transfer_rate``, ``occupancy``, ``fcr_repeat`` (no new contact by the same customer within
``fcr_window_days`` of the wrap-up ÷ handled with a known customer; ``provisional`` while that window
reaches past the end of the run), ``fcr_survey``, ``csat``, ``nps`` (-100 to 100), ``ces``,
``dimension:<name>``, ``sales_conversion``, ``sales_value``. A transferred contact counts as handled
for each agent who wrapped it up, and as offered again in the queue it was transferred to. Because
facts count at their own moment, a 15-minute ratio can exceed 1 (abandons of contacts offered in the
previous interval); a projection that folds events by their time shows the same.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from coachline.contracts.agent_states import AgentState
from coachline.sim.model import Outcome, stamp

FORMAT = "coachline-sim-ground-truth/1"
INTERVAL_MS = 15 * 60 * 1000
HANDLING_STATES = frozenset({AgentState.ON_CONTACT, AgentState.AFTER_CONTACT_WORK})
RATIO = Decimal("0.000001")
MILLI = Decimal("0.001")


@dataclass(frozen=True)
class Settings:
    sl_threshold_s: int = 20
    short_abandon_s: int = 5
    fcr_window_days: int = 7
    min_sample: int = 5


Sums = dict[str, Decimal]
Key = tuple[str, str, str, int]  # tenant, scope, scope id, 15-minute bucket (epoch ms of its start)


class _Ledger:
    def __init__(self) -> None:
        self.sums: dict[Key, Sums] = defaultdict(lambda: defaultdict(Decimal))

    def add(self, tenant: str, scopes: Iterable[tuple[str, str]], at_ms: int, **amounts: Decimal | int) -> None:
        bucket = at_ms - at_ms % INTERVAL_MS
        for scope, scope_id in scopes:
            row = self.sums[(tenant, scope, scope_id, bucket)]
            for name, amount in amounts.items():
                row[name] += Decimal(amount)


def _ms(seconds: int) -> int:
    return seconds * 1000


def ledger(outcome: Outcome, settings: Settings) -> _Ledger:
    """Additive sums per tenant, scope and 15-minute bucket, from the simulation's records."""
    book = _Ledger()
    threshold, short = _ms(settings.sl_threshold_s), _ms(settings.short_abandon_s)
    fcr_ms = settings.fcr_window_days * 86_400_000
    end = outcome.end_ms
    # A customer "contacts again" when a new interaction of theirs is offered; a transfer is not one.
    first_offer: dict[tuple[str, str, str], int] = {}
    for entry in outcome.entries:
        if entry.customer_ref and not entry.transferred_in:
            first_offer.setdefault((entry.tenant_id, entry.customer_ref, entry.interaction_id), entry.offered_ms)
    contacts: dict[tuple[str, str], list[int]] = defaultdict(list)
    for (tenant, customer, _), at in first_offer.items():
        contacts[(tenant, customer)].append(at)
    for times in contacts.values():
        times.sort()

    for e in outcome.entries:
        queue_scopes = [("queue", e.queue_id), ("tenant", e.tenant_id)]
        book.add(e.tenant_id, queue_scopes, e.offered_ms, offered=1)
        if e.abandoned_ms is not None:
            wait = e.abandoned_ms - e.offered_ms
            book.add(e.tenant_id, queue_scopes, e.abandoned_ms, abandoned=1, short_abandoned=int(wait < short),
                     abandoned_after_threshold=int(wait > threshold))
        if e.answered_ms is None or e.leg is None:
            continue
        leg = e.leg
        scopes = [*queue_scopes, ("agent", leg.agent_id), ("team", leg.team_id)]
        wait = e.answered_ms - e.offered_ms
        book.add(e.tenant_id, scopes, e.answered_ms, answered=1, answered_in_threshold=int(wait <= threshold),
                 answered_wait_ms=wait)
        if leg.wrapped_ms >= end:
            continue
        known = e.customer_ref is not None
        again = False
        if known:
            times = contacts[(e.tenant_id, e.customer_ref or "")]
            nxt = bisect.bisect_right(times, leg.wrapped_ms)
            again = nxt < len(times) and times[nxt] <= leg.wrapped_ms + fcr_ms
        book.add(e.tenant_id, scopes, leg.wrapped_ms, handled=1,
                 handle_ms=leg.talk_ms + leg.hold_ms + leg.acw_ms, talk_ms=leg.talk_ms, hold_ms=leg.hold_ms,
                 acw_ms=leg.acw_ms, transferred=int(leg.transferred), fcr_known=int(known),
                 fcr_no_repeat=int(known and not again), sale_eligible=int(leg.sale_eligible),
                 sale_made=int(leg.sale_made), sale_value=leg.sale_value or 0)

    for span in outcome.spans:
        state = span.state
        if state not in HANDLING_STATES and state is not AgentState.AVAILABLE:
            continue
        name = "handling_ms" if state in HANDLING_STATES else "available_ms"
        scopes = [("agent", span.agent_id), ("team", span.team_id), ("tenant", span.tenant_id)]
        at, stop = span.start_ms, min(span.end_ms if span.end_ms is not None else end, end)
        while at < stop:
            edge = min(stop, at - at % INTERVAL_MS + INTERVAL_MS)
            book.add(span.tenant_id, scopes, at, **{name: edge - at})
            at = edge

    for s in outcome.surveys:
        scopes = [("agent", s.agent_id), ("team", s.team_id), ("queue", s.queue_id), ("tenant", s.tenant_id)]
        amounts: dict[str, int] = {}
        if s.csat is not None:
            amounts |= {"csat_answers": 1, "csat_satisfied": int(s.csat >= 4)}
        if s.nps is not None:
            amounts |= {"nps_answers": 1, "nps_promoters": int(s.nps >= 9), "nps_detractors": int(s.nps <= 6)}
        if s.ces is not None:
            amounts |= {"ces_answers": 1, "ces_sum": s.ces}
        if s.resolved is not None:
            amounts |= {"resolution_answers": 1, "resolution_yes": int(s.resolved)}
        for name, score in s.dimensions.items():
            amounts |= {f"dimension_answers:{name}": 1, f"dimension_sum:{name}": score}
        book.add(s.tenant_id, scopes, s.answered_ms, **amounts)
    return book


def _ratio(num: Decimal, den: Decimal, min_sample: int, quantum: Decimal = RATIO) -> str | None:
    if den < min_sample or den <= 0:
        return None
    return str((num / den).quantize(quantum, rounding=ROUND_HALF_EVEN))


def figures(sums: Sums, settings: Settings) -> dict[str, str | None]:
    """The KPI figures of one scope and window from its summed numerators and denominators."""
    g = lambda name: sums.get(name, Decimal(0))  # noqa: E731
    n = settings.min_sample
    sl_base = g("offered") - g("short_abandoned")
    out: dict[str, str | None] = {
        "offered": str(g("offered")), "answered": str(g("answered")), "abandoned": str(g("abandoned")),
        "short_abandoned": str(g("short_abandoned")), "handled": str(g("handled")),
        "service_level": _ratio(g("answered_in_threshold"), sl_base, n),
        "service_level_variant": _ratio(g("answered_in_threshold"),
                                        g("answered") + g("abandoned_after_threshold"), n),
        "asa_s": _ratio(g("answered_wait_ms") / 1000, g("answered"), n, MILLI),
        "abandon_rate": _ratio(g("abandoned") - g("short_abandoned"), sl_base, n),
        "aht_s": _ratio(g("handle_ms") / 1000, g("handled"), n, MILLI),
        "transfer_rate": _ratio(g("transferred"), g("handled"), n),
        "occupancy": _ratio(g("handling_ms"), g("handling_ms") + g("available_ms"), 1),
        "fcr_repeat": _ratio(g("fcr_no_repeat"), g("fcr_known"), n),
        "fcr_survey": _ratio(g("resolution_yes"), g("resolution_answers"), n),
        "csat": _ratio(g("csat_satisfied"), g("csat_answers"), n),
        "nps": _ratio(100 * (g("nps_promoters") - g("nps_detractors")), g("nps_answers"), n),
        "ces": _ratio(g("ces_sum"), g("ces_answers"), n),
        "sales_conversion": _ratio(g("sale_made"), g("sale_eligible"), n),
        "sales_value": str(g("sale_value").quantize(Decimal("0.01"))),
    }
    for name in sorted(k.split(":", 1)[1] for k in sums if k.startswith("dimension_answers:")):
        out[f"dimension:{name}"] = _ratio(g(f"dimension_sum:{name}"), g(f"dimension_answers:{name}"), n)
    return out


def _windows(bucket_ms: int, zone: ZoneInfo) -> tuple[str, date]:
    local = stamp(bucket_ms).astimezone(zone)
    return f"15m:{local.strftime('%Y-%m-%dT%H:%M')}", local.date()


def ground_truth(outcome: Outcome, settings: Settings | None = None) -> dict[str, Any]:
    """The ground-truth document described in the module docstring."""
    settings = settings or Settings()
    book = ledger(outcome, settings)
    zones = {t.tenant_id: ZoneInfo(t.time_zone) for t in outcome.centre.tenants}
    last_day = {t: stamp(outcome.end_ms - 1).astimezone(z).date() for t, z in zones.items()}
    first_day = {t: stamp(outcome.start_ms).astimezone(z).date() for t, z in zones.items()}
    fcr_days = timedelta(days=settings.fcr_window_days)
    windows: dict[tuple[str, str, str, str], Sums] = defaultdict(lambda: defaultdict(Decimal))
    window_end: dict[tuple[str, str, str, str], datetime] = {}
    for (tenant, scope, scope_id, bucket), sums in book.sums.items():
        zone = zones[tenant]
        quarter, day = _windows(bucket, zone)
        monday = day - timedelta(days=day.weekday())
        labels = [(quarter, stamp(bucket + INTERVAL_MS)),
                  (f"day:{day.isoformat()}", _midnight(day + timedelta(days=1), zone)),
                  (f"week:{monday.isoformat()}", _midnight(monday + timedelta(days=7), zone))]
        # A rolling 30-day window per simulated day: this bucket counts in each one whose span covers it.
        for offset in range(30):
            ending = day + timedelta(days=offset)
            if first_day[tenant] <= ending <= last_day[tenant]:
                labels.append((f"30d:{ending.isoformat()}", _midnight(ending + timedelta(days=1), zone)))
        for label, closes in labels:
            key = (tenant, scope, scope_id, label)
            window_end[key] = closes
            row = windows[key]
            for name, amount in sums.items():
                row[name] += amount
    run_end = stamp(outcome.end_ms)
    tenants: dict[str, Any] = {}
    for tenant in zones:
        rows = []
        for (t, scope, scope_id, label), sums in sorted(windows.items()):
            if t != tenant or not any(sums.values()):
                continue
            rows.append({"scope": scope, "scope_id": scope_id, "window": label,
                         "provisional": window_end[(t, scope, scope_id, label)] + fcr_days > run_end,
                         "sums": {k: str(v) for k, v in sorted(sums.items())},
                         "figures": figures(sums, settings)})
        tenants[tenant] = {"time_zone": str(zones[tenant]), "figures": rows, "now": live(outcome, tenant)}
    by_type: dict[str, int] = defaultdict(int)
    for event in outcome.events:
        by_type[event.type] += 1
    return {
        "format": FORMAT, "seed": outcome.seed, "start": _iso(outcome.start_ms), "end": _iso(outcome.end_ms),
        "settings": settings.__dict__,
        "events": {"total": len(outcome.events), "by_type": dict(sorted(by_type.items()))},
        "tenants": tenants,
    }


def live(outcome: Outcome, tenant: str) -> dict[str, Any]:
    """The live figures at the end of the run: contacts waiting, longest wait, agents by state."""
    end = outcome.end_ms
    waiting: dict[str, int] = defaultdict(int)
    longest: dict[str, int] = defaultdict(int)
    spec = next(t for t in outcome.centre.tenants if t.tenant_id == tenant)
    for q in spec.queues:
        waiting[q.queue_id] = 0
        longest[q.queue_id] = 0
    for e in outcome.entries:
        if e.tenant_id != tenant or e.offered_ms >= end:
            continue
        gone = min(x for x in (e.answered_ms, e.abandoned_ms, end) if x is not None)
        if gone >= end:
            waiting[e.queue_id] += 1
            longest[e.queue_id] = max(longest[e.queue_id], end - e.offered_ms)
    states: dict[str, dict[str, dict[str, int]]] = {"tenant": {}, "team": {}}
    for span in outcome.spans:
        if span.tenant_id != tenant or span.end_ms is not None:
            continue
        for scope, scope_id in (("tenant", tenant), ("team", span.team_id)):
            counts = states[scope].setdefault(scope_id, {s.value: 0 for s in AgentState})
            counts[span.state.value] += 1
    return {"at": _iso(end), "contacts_waiting": dict(waiting),
            "longest_wait_s": {q: str(Decimal(v) / 1000) for q, v in longest.items()}, "agents_by_state": states}


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)


def _iso(at_ms: int) -> str:
    return stamp(at_ms).isoformat().replace("+00:00", "Z")


def write(document: dict[str, Any], path: Path) -> None:
    """Write the ground truth as stable, sorted JSON (the same seed gives the same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
