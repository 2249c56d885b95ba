"""E-mail texts in English, Finnish, Swedish and Norwegian (bokmål)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from coachline_notifications.domain.rules import Language

COACHING = "coaching.session.recorded.v1"
EVALUATION = "qa.evaluation.submitted.v1"
ALERT = "kpi.alert.raised.v1"
OTHER = "*"
MISSING = "-"

# (subject, body) per language and event type; placeholders are payload fields, plus event_type.
TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        COACHING: ("Coaching session recorded for {agent_id}",
                   "{coach_id} recorded a coaching session with agent {agent_id} on {held_at}."),
        EVALUATION: ("Evaluation to acknowledge for {agent_id}",
                     "Evaluation {evaluation_id} of agent {agent_id} was submitted. "
                     "Please review and acknowledge it in Coachline."),
        ALERT: ("KPI alert: {kpi} {level} for {scope} {scope_id}",
                "{kpi} is {value} against a threshold of {threshold} ({scope} {scope_id})."),
        OTHER: ("Coachline: {event_type}", "A new event ({event_type}) is waiting for you in Coachline."),
    },
    "fi": {
        COACHING: ("Valmennuskeskustelu kirjattu: {agent_id}",
                   "{coach_id} kirjasi valmennuskeskustelun agentin {agent_id} kanssa {held_at}."),
        EVALUATION: ("Arviointi kuitattavaksi: {agent_id}",
                     "Agentin {agent_id} arviointi {evaluation_id} on lähetetty. "
                     "Käy katsomassa ja kuittaa se Coachlinessa."),
        ALERT: ("KPI-hälytys: {kpi} {level}, {scope} {scope_id}",
                "{kpi} on {value}, raja-arvo {threshold} ({scope} {scope_id})."),
        OTHER: ("Coachline: {event_type}", "Uusi tapahtuma ({event_type}) odottaa sinua Coachlinessa."),
    },
    "sv": {
        COACHING: ("Coachningssamtal registrerat: {agent_id}",
                   "{coach_id} registrerade ett coachningssamtal med agent {agent_id} {held_at}."),
        EVALUATION: ("Utvärdering att bekräfta: {agent_id}",
                     "Utvärdering {evaluation_id} av agent {agent_id} har skickats in. "
                     "Granska och bekräfta den i Coachline."),
        ALERT: ("KPI-larm: {kpi} {level} för {scope} {scope_id}",
                "{kpi} är {value} mot gränsvärdet {threshold} ({scope} {scope_id})."),
        OTHER: ("Coachline: {event_type}", "En ny händelse ({event_type}) väntar på dig i Coachline."),
    },
    "nb": {
        COACHING: ("Coachingsamtale registrert: {agent_id}",
                   "{coach_id} registrerte en coachingsamtale med agent {agent_id} {held_at}."),
        EVALUATION: ("Evaluering til bekreftelse: {agent_id}",
                     "Evaluering {evaluation_id} av agent {agent_id} er sendt inn. "
                     "Se gjennom og bekreft den i Coachline."),
        ALERT: ("KPI-varsel: {kpi} {level} for {scope} {scope_id}",
                "{kpi} er {value} mot terskelen {threshold} ({scope} {scope_id})."),
        OTHER: ("Coachline: {event_type}", "En ny hendelse ({event_type}) venter på deg i Coachline."),
    },
}
DIGEST: dict[str, tuple[str, str]] = {
    "en": ("Coachline daily digest {day}", "What happened on {day}:"),
    "fi": ("Coachlinen päivän yhteenveto {day}", "Tapahtumat {day}:"),
    "sv": ("Coachlines dagliga sammanfattning {day}", "Det här hände {day}:"),
    "nb": ("Coachlines daglige oppsummering {day}", "Dette skjedde {day}:"),
}
FOOTER: dict[str, str] = {
    "en": "Sent by Coachline notifications under a rule your administrator set up.",
    "fi": "Tämän viestin lähetti Coachline ylläpitäjäsi asettaman säännön mukaan.",
    "sv": "Skickat av Coachline enligt en regel som din administratör har skapat.",
    "nb": "Sendt av Coachline etter en regel administratoren din har satt opp.",
}


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        # Payloads grow and change by version; a field a template names but an event lacks shows as a dash.
        return MISSING


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def render(event_type: str, language: Language, data: Mapping[str, Any]) -> Mail:
    """The e-mail for one event, in ``language``."""
    subject, body = TEMPLATES[language].get(event_type, TEMPLATES[language][OTHER])
    fields = _Fields({k: v for k, v in data.items() if isinstance(v, str | int | float)}, event_type=event_type)
    return Mail(_one_line(subject.format_map(fields)),
                f"{body.format_map(fields)}\n\n-- \n{FOOTER[language]}\n")


def render_digest(language: Language, day: date, lines: list[str]) -> Mail:
    """One e-mail listing the day's notifications of a rule (one line each, oldest first)."""
    subject, intro = DIGEST[language]
    listed = "\n".join(f"- {line}" for line in lines)
    return Mail(subject.format(day=day.isoformat()),
                f"{intro.format(day=day.isoformat())}\n\n{listed}\n\n-- \n{FOOTER[language]}\n")
