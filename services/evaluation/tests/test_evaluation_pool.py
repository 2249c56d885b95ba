"""The sampling pool: interactions as pool entries and which entry an evaluation scores."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from coachline.contracts.interactions import Channel, InteractionWrappedUp
from coachline_evaluation.domain.sampling import AgentNotNamed, NotInPool, entry_to_evaluate, pool_entry

pytestmark = pytest.mark.unit

CET = timezone(timedelta(hours=1))


def completed(agent_id: str = "a-17", **changes: object) -> InteractionWrappedUp:
    fields: dict[str, object] = {
        "interaction_id": "c-1001", "queue_id": "billing", "channel": "voice", "agent_id": agent_id,
        "team_id": "t-north", "occurred_at": datetime(2026, 11, 23, 10, 6, 40, tzinfo=CET),
        "talk_s": "310.000", "hold_s": "25.000", "after_contact_work_s": "45.500", "transferred": False,
    }
    fields.update(changes)
    return InteractionWrappedUp.model_validate(fields)


def test_a_completed_interaction_becomes_a_pool_entry_in_utc_with_its_handle_time() -> None:
    entry = pool_entry("acme", completed())

    assert entry.tenant_id == "acme"
    assert (entry.interaction_id, entry.agent_id, entry.team_id, entry.queue_id) == ("c-1001", "a-17", "t-north",
                                                                                        "billing")
    assert entry.channel is Channel.VOICE
    assert entry.completed_at == datetime(2026, 11, 23, 9, 6, 40, tzinfo=UTC)
    assert entry.completed_at.utcoffset() == timedelta(0)
    assert entry.handle_s == Decimal("380.500")


def test_durations_are_kept_to_the_millisecond_as_stored() -> None:
    entry = pool_entry("acme", completed(talk_s="60", hold_s="0", after_contact_work_s="0", transferred=True))

    assert entry.model_dump(mode="json") | {"completed_at": None} == {
        "tenant_id": "acme", "interaction_id": "c-1001", "agent_id": "a-17", "team_id": "t-north",
        "queue_id": "billing", "channel": "voice", "completed_at": None, "talk_s": "60.000", "hold_s": "0.000",
        "after_contact_work_s": "0.000", "transferred": True, "customer_ref": None, "handle_s": "60.000",
    }


def test_the_only_agent_who_handled_an_interaction_is_the_one_evaluated() -> None:
    only = pool_entry("acme", completed())

    assert entry_to_evaluate([only], None) == only
    assert entry_to_evaluate([only], "a-17") == only


def test_an_interaction_outside_the_pool_cannot_be_evaluated() -> None:
    with pytest.raises(NotInPool):
        entry_to_evaluate([], None)
    with pytest.raises(NotInPool):
        entry_to_evaluate([pool_entry("acme", completed())], "a-99")


def test_a_transferred_interaction_needs_the_agent_named() -> None:
    first, second = pool_entry("acme", completed("a-17")), pool_entry("acme", completed("a-20"))

    with pytest.raises(AgentNotNamed) as raised:
        entry_to_evaluate([second, first], None)
    assert raised.value.agent_ids == ["a-17", "a-20"]
    assert entry_to_evaluate([first, second], "a-20") == second
