"""Every source's sample corpus becomes exactly the expected canonical events, and nothing breaks an adapter."""

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.contracts.registry import RAW_SOURCES
from coachline_intake.cli import media_for, structured
from coachline_intake.domain.records import Rejected
from coachline_intake.domain.sources import ADAPTERS
from coachline_intake.domain.translate import BodyRejected, Record, UnsupportedMedia, split_body, translate_record
from coachline_intake.service import context_for, translate_records
from coachline_intake.settings import Settings

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).parent / "corpus"
# Each sample corpus (a file as the platform sends it) and the source it is posted to; its canonical
# events are in <file name without suffix>.expected.ndjson.
CORPORA: dict[str, str] = json.loads((CORPUS / "corpora.json").read_text())
CONTEXT = context_for(Settings(), "acme")


def translate_file(corpus: str, tenant: str = "acme") -> list[dict[str, Any]]:
    path, source = CORPUS / corpus, CORPORA[corpus]
    records = split_body(path.read_bytes(), media_for(source, path, None), ADAPTERS[source])
    result = translate_records(ADAPTERS[source], records, context_for(Settings(), tenant))
    assert not result.rejected, [(o.record.line, o.rejection) for o in result.rejected]
    return [structured(event) for event in result.events]


def expected(corpus: str) -> list[dict[str, Any]]:
    path = CORPUS / f"{Path(corpus).stem}.expected.ndjson"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_source_has_a_sample_corpus_and_a_raw_topic() -> None:
    assert set(CORPORA.values()) == set(ADAPTERS) == set(RAW_SOURCES)


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_the_corpus_becomes_exactly_the_expected_events(corpus: str) -> None:
    assert translate_file(corpus) == expected(corpus)


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_the_cli_prints_the_same_events(corpus: str) -> None:
    run = subprocess.run([sys.executable, "-c", "import sys; from coachline_intake.cli import main; "
                          "sys.exit(main(sys.argv[1:]))", "translate", "--source", CORPORA[corpus], "--tenant",
                          "acme", str(CORPUS / corpus)], capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert [json.loads(line) for line in run.stdout.splitlines()] == expected(corpus)


def test_the_cli_reports_rejected_lines_and_fails(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text("1795424400|1795424400.1|billing|NONE|ENTERQUEUE||0401234567|1\nnot a queue_log line\n")
    run = subprocess.run([sys.executable, "-c", "import sys; from coachline_intake.cli import main; "
                          "sys.exit(main(sys.argv[1:]))", "translate", "--source", "asterisk", str(log)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert len(run.stdout.splitlines()) == 1
    assert "line 2: rejected (line)" in run.stderr


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_resending_gives_identical_ids_and_another_tenant_different_ones(corpus: str) -> None:
    first, again = translate_file(corpus), translate_file(corpus)
    assert [e["id"] for e in first] == [e["id"] for e in again]
    assert len({e["id"] for e in first}) == len(first), "two events of one corpus share an id"
    if CORPORA[corpus] != "generic":  # generic events name their tenant inside, so they only translate for it
        other = translate_file(corpus, tenant="globex")
        assert not {e["id"] for e in first} & {e["id"] for e in other}


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_no_raw_phone_number_or_email_survives_translation(corpus: str) -> None:
    text = json.dumps(translate_file(corpus))
    for raw in ("401234567", "507654321", "401112223", "9998887", "501112223", "@example.fi"):
        assert raw not in text


def test_the_same_customer_has_one_pseudonym_across_sources_and_spellings() -> None:
    refs = {corpus: {e["data"].get("customer_ref") for e in translate_file(corpus)} - {None}
            for corpus in ("amazon-connect.ndjson", "genesys-cloud.json", "genesys-cloud-notifications.ndjson",
                           "twilio-taskrouter.ndjson", "asterisk.queue_log", "generic.ndjson")}
    # +358401234567, "tel:+358401234567", "040 1234567" (Finnish national form): one customer.
    shared = set.intersection(*refs.values())
    assert len(shared) == 1
    assert next(iter(shared)).startswith("cust-")


def test_genesys_notifications_and_detail_records_name_each_step_alike() -> None:
    # A tenant may stream notifications and post the detail record afterwards: every step both report
    # has one id, so consumers keep the first and drop the other; the detail record adds hold and wrap-up.
    live = {e["id"]: e["type"] for e in translate_file("genesys-cloud-notifications.ndjson")
            if e["type"].startswith("cc.interaction.")}
    detail = {e["id"]: e["type"] for e in translate_file("genesys-cloud.json")}
    assert set(live) <= set(detail)
    assert set(live.values()) == {f"cc.interaction.{kind}.v1" for kind in ("offered", "answered", "abandoned",
                                                                              "transferred", "ended")}
    assert {detail[i] for i in set(detail) - set(live)} == {"cc.interaction.held.v1", "cc.interaction.resumed.v1",
                                                            "cc.interaction.wrapped-up.v1"}


def test_the_story_covers_every_interaction_event_across_the_corpora() -> None:
    types = {e["type"] for corpus in CORPORA for e in translate_file(corpus)}
    for kind in ("offered", "answered", "held", "resumed", "transferred", "abandoned", "ended", "wrapped-up"):
        assert f"cc.interaction.{kind}.v1" in types
    assert {"cc.agent.state-changed.v1", "cc.survey.answered.v1", "cc.roster.agent.v1",
            "cc.mystery-shop.completed.v1"} <= types


def records_of(corpus: str) -> list[Any]:
    path, source = CORPUS / corpus, CORPORA[corpus]
    return [r.value for r in split_body(path.read_bytes(), media_for(source, path, None), ADAPTERS[source])]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
    | st.sampled_from(["", "2026-11-23T09:00:00Z", "+358401234567", "1795424400", "-1", "yes", "VOICE", "voice",
                       1795424400000, "ANSWERED", "TRANSFER"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)


def mutate(value: Any, data: st.DataObject, depth: int = 0) -> Any:
    """The record with one nested value replaced, removed or kept, chosen by hypothesis."""
    if isinstance(value, dict) and value and depth < 6:
        key = data.draw(st.sampled_from(sorted(value)))
        action = data.draw(st.sampled_from(["descend", "delete", "replace", "add"]))
        changed = dict(value)
        if action == "descend":
            changed[key] = mutate(value[key], data, depth + 1)
        elif action == "delete":
            del changed[key]
        elif action == "replace":
            changed[key] = data.draw(json_values)
        else:
            changed[data.draw(st.text(max_size=12))] = data.draw(json_values)
        return changed
    if isinstance(value, list) and value and depth < 6:
        index = data.draw(st.integers(0, len(value) - 1))
        changed_list = list(value)
        changed_list[index] = mutate(value[index], data, depth + 1)
        return changed_list
    if isinstance(value, str) and "|" in value:  # a queue_log line: change one field
        fields = value.split("|")
        index = data.draw(st.integers(0, len(fields) - 1))
        fields[index] = data.draw(st.text(max_size=20) | st.sampled_from(["", "-5", "ENTERQUEUE", "TRANSFER",
                                                                         "CONNECT", "99999999999999999999"]))
        return "|".join(fields)
    return data.draw(json_values)


def translate_one(source: str, value: Any) -> None:
    outcome = translate_record(ADAPTERS[source], Record(1, json.dumps(value, default=str), value), CONTEXT)
    if outcome.rejection is not None:
        assert isinstance(outcome.rejection, Rejected) and outcome.rejection.reason
        assert outcome.events == []
    for event in outcome.events:
        assert event.tenant_id == "acme" and event.id
        event.body()  # every accepted event serialises


@settings(max_examples=180, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus=st.sampled_from(sorted(CORPORA)), data=st.data())
def test_mutated_corpus_records_become_events_or_a_rejection_never_an_exception(corpus: str,
                                                                                data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(records_of(corpus)))
    translate_one(CORPORA[corpus], mutate(copy.deepcopy(original), data))


@settings(max_examples=150, deadline=None)
@given(source=st.sampled_from(sorted(ADAPTERS)), value=json_values | st.text(max_size=200))
def test_arbitrary_input_becomes_events_or_a_rejection_never_an_exception(source: str, value: Any) -> None:
    translate_one(source, value)


@settings(max_examples=150, deadline=None)
@given(source=st.sampled_from(sorted(ADAPTERS)), body=st.binary(max_size=400),
       content_type=st.sampled_from(["application/json", "application/x-ndjson", "text/plain",
                                     "application/x-www-form-urlencoded", "image/png", ""]))
def test_arbitrary_bodies_split_into_records_or_are_refused_whole(source: str, body: bytes,
                                                                   content_type: str) -> None:
    try:
        records = split_body(body, content_type, ADAPTERS[source])
    except (BodyRejected, UnsupportedMedia) as exc:
        assert str(exc)
        return
    for record in records:
        outcome = translate_record(ADAPTERS[source], record, CONTEXT)
        assert (outcome.rejection is None) or (outcome.rejection.reason and not outcome.events)


def test_an_adapter_failure_becomes_a_rejection_and_a_log_line_without_the_record(caplog) -> None:
    from dataclasses import replace

    def broken(record: Any, context: Any) -> list[Any]:
        raise ValueError(f"cannot read {record}")  # a message that echoes the record

    outcome = translate_record(replace(ADAPTERS["asterisk"], translate=broken), Record(7, "0401234567", "0401234567"),
                               CONTEXT)
    assert outcome.rejection is not None and "could not read" in outcome.rejection.reason
    assert not outcome.events
    assert "ValueError" in caplog.text and "line 7" in caplog.text and "0401234567" not in caplog.text
