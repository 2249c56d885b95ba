"""``survey``: post-contact survey answers from SMS, IVR or web surveys.

One answer set per record::

    {"survey_id": "sv-1", "interaction_id": "c-1", "agent_id": "a-17", "channel": "sms",
     "answered_at": "2026-11-23T09:20:00Z",
     "answers": {"csat": 5, "nps": 9, "ces": 6, "resolved": "yes", "friendliness": 5},
     "comment": "Quick and kind."}

``agent_id`` is the last agent who handled the interaction, as the survey platform knows it.
``csat`` is 1-5, ``nps`` 0-10, ``ces`` 1-7, ``resolved`` yes/no; every other answer is a dimension
(0-10) and must be one of the tenant's configured dimensions (``INTAKE_SURVEY_DIMENSIONS``).
Phone numbers and e-mail addresses in the comment are replaced before it leaves intake.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints, ValidationError

from coachline.contracts.base import Identifier
from coachline.envelope import validation_summary
from coachline_intake.domain.records import Context, Draft, Rejected, flag, timestamp

Answer = StrictInt | StrictBool | Annotated[str, StringConstraints(max_length=10)]


class SurveyRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    survey_id: Identifier
    interaction_id: Identifier
    agent_id: Identifier | None = None
    channel: Literal["sms", "ivr", "web", "email"] | None = None
    answered_at: Annotated[str, StringConstraints(max_length=64)] | int
    answers: dict[Identifier, Answer] = Field(max_length=30)
    comment: Annotated[str, StringConstraints(max_length=4000)] | None = None


def _score(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise Rejected(f"answers.{name} must be a number", f"answers.{name}")
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise Rejected(f"answers.{name} must be a number", f"answers.{name}")
        value = int(value.strip())
    return int(value)


def translate(record: Any, context: Context) -> list[Draft]:
    try:
        survey = SurveyRecord.model_validate(record)
    except ValidationError as exc:
        loc = ".".join(str(p) for p in exc.errors()[0]["loc"]) if exc.errors() else None
        raise Rejected(f"not a survey answer: {validation_summary(exc)}", loc) from None
    data: dict[str, Any] = {"survey_id": survey.survey_id, "interaction_id": survey.interaction_id,
                            "agent_id": survey.agent_id, "occurred_at": timestamp(survey.answered_at, "answered_at")}
    dimensions: dict[str, int] = {}
    for name, value in survey.answers.items():
        if name in ("csat", "nps", "ces"):
            data[name] = _score(value, name)
        elif name == "resolved":
            data["resolved"] = flag(value, "answers.resolved")
        elif name in context.survey_dimensions:
            dimensions[name] = _score(value, name)
        else:
            raise Rejected(f"answers.{name} is not a configured survey dimension", f"answers.{name}")
    data["dimensions"] = dimensions
    if survey.comment:
        data["comment"] = context.scrub(survey.comment)
    return [Draft("cc.survey.answered.v1", survey.survey_id, data)]
