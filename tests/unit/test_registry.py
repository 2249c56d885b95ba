import pytest

from coachline.contracts.registry import EVENT_TYPES, TOPICS

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_every_event_type_has_a_valid_example_and_a_registered_topic(name: str) -> None:
    et = EVENT_TYPES[name]
    payload = et.model.model_validate(et.example)
    assert et.topic in TOPICS
    assert et.key("acme", payload).startswith("acme:")
    assert name.endswith(".v1") and et.topic.endswith(".v1")


def test_every_topic_but_dead_letters_has_its_dead_letter_topic_registered() -> None:
    for topic in TOPICS.values():
        if ".dlq." in topic.name:
            assert topic.dead_letter is None
        else:
            assert topic.dead_letter in TOPICS
        assert topic.partitions >= 1


def test_contracts_refuse_unknown_fields_and_unbounded_strings() -> None:
    et = EVENT_TYPES["cc.interaction.offered.v1"]
    with pytest.raises(ValueError, match="Extra inputs"):
        et.model.model_validate({**et.example, "phone": "+4912345"})
    with pytest.raises(ValueError, match="at most 128"):
        et.model.model_validate({**et.example, "interaction_id": "x" * 129})
