"""The service layer over the in-memory unit of work: inputs once per event id, scheduled releases,
mystery shops, and nothing stored or published by a use case that fails."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachline.auth import Principal, Role
from coachline.contracts.interactions import InteractionWrappedUp
from coachline.contracts.mystery_shops import MysteryShopCompleted
from coachline.contracts.surveys import SurveyAnswered
from coachline.envelope import CloudEvent, new_event
from coachline_evaluation import service
from coachline_evaluation.domain.mystery_shopping import ScenarioDefinition
from coachline_evaluation.domain.scorecards import InvalidAnswers, ScorecardDefinition
from coachline_evaluation.domain.selection import SamplingPolicyDefinition

from .evaluation_fakes import FakeUnitOfWork

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CARD = ScorecardDefinition.model_validate({"name": "Voice", "sections": [
    {"section_id": "s", "title": "s", "goal": "quality", "criteria": [
        {"criterion_id": "greeting", "title": "Greeting"}, {"criterion_id": "offer", "title": "Offer"}]}]})
EVALUATOR = Principal(subject="q-2", tenant_id="acme", roles=frozenset({Role.QUALITY_EVALUATOR}))


def completed(interaction: str = "c-1", agent: str = "a-17") -> CloudEvent:
    return new_event("cc.interaction.wrapped-up.v1", "acme", InteractionWrappedUp(
        interaction_id=interaction, queue_id="billing", channel="voice", agent_id=agent, team_id="t-north",
        occurred_at=NOW, talk_s=Decimal(300)), source="test")


async def ready(uow: FakeUnitOfWork) -> None:
    await service.take_interaction(uow, completed())
    await service.save_scorecard(uow, "acme", "sc", CARD, now=NOW)
    await service.change_scorecard_status(uow, "acme", "sc", 1, "published", now=NOW)


async def test_each_input_event_counts_once() -> None:
    uow = FakeUnitOfWork()
    survey = new_event("cc.survey.answered.v1", "acme", SurveyAnswered(
        survey_id="s-1", interaction_id="c-1", occurred_at=NOW, csat=1), source="test")

    outcomes = [await service.take_survey(uow, survey), await service.take_survey(uow, survey),
                await service.take_survey(uow, completed())]

    assert outcomes == [service.Outcome.ADDED, service.Outcome.DUPLICATE, service.Outcome.IGNORED]


async def test_a_scheduled_release_happens_when_its_day_comes() -> None:
    uow = FakeUnitOfWork()
    await ready(uow)
    evaluation = await service.assign_evaluation(uow, EVALUATOR, service.AssignEvaluation(
        interaction_id="c-1", scorecard_id="sc", answers={"greeting": True, "offer": True}), now=NOW)
    await service.release_evaluation(uow, EVALUATOR, evaluation.evaluation_id, date(2026, 11, 25), now=NOW)

    assert await service.release_due(uow, now=datetime(2026, 11, 24, 23, tzinfo=UTC)) == 0
    assert await service.release_due(uow, now=datetime(2026, 11, 25, 1, tzinfo=UTC)) == 1
    assert uow.state.evaluations[("acme", evaluation.evaluation_id)].state.value == "released"
    assert [e.type for e in uow.state.outbox][-1] == "qa.evaluation.released.v1"


async def test_a_failed_submission_leaves_neither_a_change_nor_an_event() -> None:
    uow = FakeUnitOfWork()
    await ready(uow)
    evaluation = await service.assign_evaluation(uow, EVALUATOR, service.AssignEvaluation(
        interaction_id="c-1", scorecard_id="sc"), now=NOW)
    before = list(uow.state.outbox)

    with pytest.raises(InvalidAnswers):
        await service.submit_evaluation(uow, EVALUATOR, evaluation.evaluation_id, {"greeting": True}, [], now=NOW)

    assert uow.state.outbox == before
    assert uow.state.evaluations[("acme", evaluation.evaluation_id)].state.value == "assigned"


def shop(visit: str, scenario: str, agent: str | None = None, interaction: str | None = "c-1") -> CloudEvent:
    return new_event("cc.mystery-shop.completed.v1", "acme", MysteryShopCompleted(
        visit_id=visit, scenario_id=scenario, channel="voice", occurred_at=NOW, interaction_id=interaction,
        agent_id=agent, answers={"greeting": "yes", "offer": "no"}), source="test")


async def test_a_mystery_shop_is_scored_apart_and_unscorable_ones_raise_for_the_dead_letter_topic() -> None:
    uow = FakeUnitOfWork()
    await ready(uow)
    await service.save_scenario(uow, "acme", "cancel", ScenarioDefinition(
        title="Cancel", brief="Ask to cancel.", channel="voice", scorecard_id="sc"))

    assert await service.take_mystery_shop(uow, shop("v-1", "cancel"), now=NOW) is service.Outcome.ADDED
    with pytest.raises(service.UnknownScenario):
        await service.take_mystery_shop(uow, shop("v-2", "unknown"), now=NOW)
    with pytest.raises(service.UnattributedShop):
        await service.take_mystery_shop(uow, shop("v-3", "cancel", interaction=None), now=NOW)

    [result] = await service.mystery_results(uow, "acme", 10)
    assert (result.kind.value, result.agent_id, result.score) == ("mystery_shop", "a-17", Decimal("50.00"))
    assert uow.state.mystery == {("acme", "c-1")}
    assert uow.state.outbox[-1].data.model_dump()["kind"] == "mystery_shop"
    estimate = await service.quality_score(uow, EVALUATOR, "a-17", None, None)
    assert estimate.n == 0


answer_values = st.booleans() | st.decimals(-1000, 1000, places=3, allow_nan=False) | st.text(max_size=12)
shop_answers = st.dictionaries(st.sampled_from(["greeting", "offer", "other", "x-1"]), answer_values, max_size=4)


@settings(max_examples=200, deadline=None)
@given(answers=shop_answers, scenario=st.sampled_from(["cancel", "unknown"]),
       agent=st.none() | st.just("a-20"), interaction=st.none() | st.sampled_from(["c-1", "c-404"]))
async def test_any_mystery_shop_result_is_scored_or_refused_with_a_reason(
    answers: dict[str, Any], scenario: str, agent: str | None, interaction: str | None
) -> None:
    uow = FakeUnitOfWork()
    await ready(uow)
    await service.save_scenario(uow, "acme", "cancel", ScenarioDefinition(
        title="Cancel", brief="Ask to cancel.", channel="voice", scorecard_id="sc"))
    event = new_event("cc.mystery-shop.completed.v1", "acme", MysteryShopCompleted(
        visit_id="v-1", scenario_id=scenario, channel="voice", occurred_at=NOW, interaction_id=interaction,
        agent_id=agent, answers=answers), source="test")
    before = len(uow.state.outbox)

    try:
        outcome = await service.take_mystery_shop(uow, event, now=NOW)
    except (InvalidAnswers, service.UnknownScenario, service.UnattributedShop) as refused:
        # The shared subscriber dead-letters the message with this text as the reason.
        assert str(refused)
        assert len(uow.state.outbox) == before
        return
    assert outcome is service.Outcome.ADDED
    [result] = await service.mystery_results(uow, "acme", 10)
    assert result.score is not None and 0 <= result.score <= 100
    assert uow.state.outbox[-1].data.model_dump()["kind"] == "mystery_shop"


async def test_a_weekly_policy_samples_the_last_full_week_once() -> None:
    uow = FakeUnitOfWork()
    await ready(uow)  # c-1 completed on Monday 2026-11-23
    for policy_id, cadence in (("weekly", "weekly"), ("by-hand", "manual")):
        await service.save_sampling_policy(uow, "acme", policy_id, SamplingPolicyDefinition(
            name=policy_id, scorecard_id="sc", quota={"count": 1}, evaluator_ids=["q-2"], cadence=cadence))
    next_wednesday = datetime(2026, 12, 2, 8, tzinfo=UTC)

    runs = await service.run_weekly_sampling(uow, now=next_wednesday)
    again = await service.run_weekly_sampling(uow, now=next_wednesday)

    [run] = runs
    assert (run.policy_id, run.selection.period_start, run.selection.period_end) == (
        "weekly", date(2026, 11, 23), date(2026, 11, 30))
    assert run.selection.work_start == date(2026, 11, 30) and len(run.evaluation_ids) == 1
    assert again == []


async def test_a_weekly_policy_without_a_published_scorecard_waits_for_one() -> None:
    uow = FakeUnitOfWork()
    await service.take_interaction(uow, completed())
    await service.save_sampling_policy(uow, "acme", "weekly", SamplingPolicyDefinition(
        name="weekly", scorecard_id="sc", quota={"count": 1}, evaluator_ids=["q-2"], cadence="weekly"))
    wednesday = datetime(2026, 12, 2, 8, tzinfo=UTC)

    assert await service.run_weekly_sampling(uow, now=wednesday) == []
    await service.save_scorecard(uow, "acme", "sc", CARD, now=NOW)
    await service.change_scorecard_status(uow, "acme", "sc", 1, "published", now=NOW)
    assert len(await service.run_weekly_sampling(uow, now=wednesday)) == 1
