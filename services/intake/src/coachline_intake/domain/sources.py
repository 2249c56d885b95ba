"""The registry of sources: each name with its adapter and the body shapes it reads."""


from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from coachline_intake.domain.adapters import (
    amazon_connect,
    asterisk,
    generic,
    genesys_cloud,
    mystery_shop,
    roster,
    survey,
    twilio_taskrouter,
)
from coachline_intake.domain.records import Context, Draft

Shape = Literal["json", "text", "form"]


@dataclass(frozen=True)
class Adapter:
    name: str
    translate: Callable[[Any, Context], list[Draft]]
    shapes: frozenset[Shape]
    description: str


ADAPTERS: dict[str, Adapter] = {a.name: a for a in [
    Adapter("generic", generic.translate, frozenset({"json"}), "Canonical events as CloudEvents structured JSON."),
    Adapter("amazon-connect", amazon_connect.translate, frozenset({"json"}),
            "Amazon Connect contact records (CTR) and agent event stream records."),
    Adapter("genesys-cloud", genesys_cloud.translate, frozenset({"json"}),
            "Genesys Cloud analytics conversation detail records and real-time notifications."),
    Adapter("twilio-taskrouter", twilio_taskrouter.translate, frozenset({"json", "form"}),
            "Twilio TaskRouter event callbacks (task, reservation, worker activity)."),
    Adapter("asterisk", asterisk.translate, frozenset({"text"}), "Asterisk queue_log lines."),
    Adapter("survey", survey.translate, frozenset({"json"}), "Post-contact survey answers (SMS, IVR, web)."),
    Adapter("mystery-shop", mystery_shop.translate, frozenset({"json"}), "Mystery-shopper results."),
    Adapter("roster", roster.translate, frozenset({"json"}), "Agents, teams and queues from WFM or HR."),
]}
