"""The KPI service over HTTP: the adapter behind :class:`coachline_coaching.service.KpiSource`.

It reads one KPI of one scope over a range of days (``GET /v1/kpis/range``) on behalf of the person
asking, with their bearer token, so the KPI service applies its own visibility rules. The KPI service
adds up the days' numerators and denominators before it divides, and answers the value with the sample
it rests on, so every KPI a goal can name is measured as ``KPI_DEFINITIONS.md`` defines it; a value is
null when its sample is below the KPI service's minimum.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from coachline.contracts.kpi import Scope
from coachline_coaching.domain.goals import Measurement

PLACES = Decimal("0.0001")


class KpiUnavailable(Exception):
    """The KPI service did not answer usefully (down, refused, or an unexpected body)."""


def measurement(kpi: str, body: Any) -> Measurement:
    """The ``kpi`` of a ``/v1/kpis/range`` answer."""
    figure = body["kpis"][kpi]
    value = figure["value"]
    # A sample is a count, or seconds of time in state for occupancy: whole units are enough to judge it by.
    # Facts count at their own moment, so a denominator can dip below zero at a range's first day (an
    # abandon of a contact offered the day before); no value is shown for it anyway.
    sample = max(0, int(Decimal(str(figure["sample"]))))
    # Goals keep, and coaching.v1 publishes, values to four decimal places.
    return Measurement(value=None if value is None else Decimal(str(value)).quantize(PLACES), sample=sample)


class KpiService:
    """The KPI service at ``base_url``; :meth:`on_behalf_of` gives the port for one caller."""

    def __init__(self, base_url: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout_s
        self._transport = transport

    def on_behalf_of(self, authorization: str) -> CallerKpis:
        return CallerKpis(self, authorization)

    async def over_days(self, authorization: str, kpi: str, scope: Scope, scope_id: str, first: date,
                        last: date) -> Measurement:
        params = {"scope": scope.value, "scope_id": scope_id, "kpi": kpi, "since": first.isoformat(),
                  "until": last.isoformat()}
        try:
            async with httpx.AsyncClient(base_url=self._base_url, timeout=self._timeout,
                                         transport=self._transport) as client:
                answer = await client.get("/v1/kpis/range", params=params, headers={"Authorization": authorization})
        except httpx.HTTPError as exc:
            raise KpiUnavailable(f"the KPI service did not answer: {type(exc).__name__}") from exc
        if answer.status_code != 200:
            raise KpiUnavailable(f"the KPI service answered {answer.status_code}")
        try:
            return measurement(kpi, answer.json())
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
        return await self._service.over_days(self._authorization, kpi, scope, scope_id, first, last)
