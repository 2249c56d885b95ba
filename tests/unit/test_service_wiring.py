"""Every service's Kafka wiring obeys the delivery rules, inspected before anything connects.

The live check (``coachline.messaging.check_wiring``) runs again at every service's start-up against
the connected producer; tests/integration/test_platform.py shows it refusing bad wiring.
"""

import importlib

import pytest
from faststream import AckPolicy

pytestmark = pytest.mark.unit
SERVICES = ("intake", "evaluation", "coaching", "kpi", "notifications")


@pytest.mark.parametrize("service", SERVICES)
def test_producer_is_idempotent_and_subscribers_ack_after_their_work(service: str) -> None:
    app = importlib.import_module(f"coachline_{service}.app").create_app()
    broker = app.state.runtime.broker
    producer = broker._connection_kwargs  # the kwargs the producer will be built with
    assert producer["enable_idempotence"] is True
    assert producer["acks"] in ("all", -1)
    for subscriber in broker.subscribers:
        assert subscriber.ack_policy is not AckPolicy.ACK_FIRST, subscriber
        assert subscriber.ack_policy in (AckPolicy.ACK, AckPolicy.NACK_ON_ERROR, AckPolicy.REJECT_ON_ERROR)


@pytest.mark.parametrize("service", SERVICES)
def test_every_consumed_topic_has_a_dead_letter_topic(service: str) -> None:
    from coachline.contracts.registry import TOPICS

    runtime = importlib.import_module(f"coachline_{service}.app").create_app().state.runtime
    for topic in runtime.consumes:
        assert TOPICS[topic].dead_letter in runtime.topics()
