"""The KPI service over HTTP: the adapter behind :class:`coachline_coaching.service.KpiSource`.

It reads one scope's day figures (``GET /v1/kpis/series``) on behalf of the person asking, with their
bearer token, so the KPI service applies its own visibility rules. The KPI service shows a ratio only
above its minimum sample and does not publish the numerators, so days are combined through the count
each ratio divides by: the value is the mean of the days' values weighted by that count, over the days
whose value is shown, and the sample is that count summed over those days. KPIs whose divisor the
KPI service does not publish are answered as "no data" rather than guessed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from coachline.contracts.kpi import Scope
from coachline_coaching.domain.goals import Measurement

# KPI -> the published counts whose sum is its divisor, with the sign each count enters with.
DIVISORS: dict[str, tuple[tuple[str, int], ...]] = {
    "aht_s": (("handled", 1),),
    "transfer_rate": (("handled", 1),),
    "asa_s": (("answered", 1),),
    "service_level": (("offered", 1), ("short_abandoned", -1)),
    "abandon_rate": (("offered", 1), ("short_abandoned", -1)),
}
# Sums rather than ratios: the value is the total, the sample the number of days with figures.
TOTALS = ("sales_value",)


class KpiUnavailable(Exception):
    """The KPI service did not answer usefully (down, refused, or an unexpected body)."""


def combine(kpi: str, days: list[dict[str, Decimal | None]]) -> Measurement:
    """Combine one scope's day figures into the KPI over all those days, with its sample."""
    if kpi in TOTALS:
        values = [v for d in days if (v := d.get(kpi)) is not None]
        return Measurement(value=sum(values, Decimal(0)) if values else None, sample=len(values))
    if kpi not in DIVISORS:
        return Measurement(value=None, sample=0)
    weighted = Decimal(0)
    sample = Decimal(0)
    for figures in days:
        value = figures.get(kpi)
        weight = sum((Decimal(figures.get(name) or 0) * sign for name, sign in DIVISORS[kpi]), Decimal(0))
        if value is None or weight <= 0:
            continue
        weighted += value * weight
        sample += weight
    if sample == 0:
        return Measurement(value=None, sample=0)
    return Measurement(value=(weighted / sample).quantize(Decimal("0.0001")), sample=int(sample))


class KpiService:
    """The KPI service at ``base_url``; :meth:`on_behalf_of` gives the port for one caller."""

    def __init__(self, base_url: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout_s
        self._transport = transport

    def on_behalf_of(self, authorization: str) -> CallerKpis:
        return CallerKpis(self, authorization)

    async def day_figures(self, authorization: str, scope: Scope, scope_id: str, first: date,
                          last: date) -> list[dict[str, Decimal | None]]:
        params = {"scope": scope.value, "scope_id": scope_id, "kind": "day", "since": first.isoformat(),
                  "until": last.isoformat()}
        try:
            async with httpx.AsyncClient(base_url=self._base_url, timeout=self._timeout,
                                         transport=self._transport) as client:
                answer = await client.get("/v1/kpis/series", params=params,
                                          headers={"Authorization": authorization})
        except httpx.HTTPError as exc:
            raise KpiUnavailable(f"the KPI service did not answer: {type(exc).__name__}") from exc
        if answer.status_code != 200:
            raise KpiUnavailable(f"the KPI service answered {answer.status_code}")
        try:
            items: list[dict[str, Any]] = answer.json()["items"]
            return [{k: None if v is None else Decimal(str(v)) for k, v in item["figures"].items()}
                    for item in items]
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            raise KpiUnavailable("the KPI service sent an unexpected body") from exc


class CallerKpis:
    """:class:`~coachline_coaching.service.KpiSource` for one caller, using their token."""

    def __init__(self, service: KpiService, authorization: str) -> None:
        self._service = service
        self._authorization = authorization

    async def measure(self, tenant_id: str, kpi: str, scope: Scope, scope_id: str, first: date,
                      last: date) -> Measurement:
        # The tenant travels in the caller's token; the KPI service takes it from there.
        days = await self._service.day_figures(self._authorization, scope, scope_id, first, last)
        return combine(kpi, days)
