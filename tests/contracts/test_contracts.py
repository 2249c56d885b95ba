"""The committed contracts match the code, and every golden example satisfies its schema."""

import filecmp
import importlib.util
import json
from pathlib import Path

import jsonschema
import pytest

from coachline.contracts.registry import EVENT_TYPES

pytestmark = pytest.mark.unit
CONTRACTS = Path(__file__).parents[2] / "contracts"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("contracts_generate", CONTRACTS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.json")}


def test_regenerated_contracts_equal_the_committed_ones(tmp_path: Path) -> None:
    _generator().generate(tmp_path)
    committed = _files(CONTRACTS)
    assert _files(tmp_path) == committed, "run `make contracts` and commit the result"
    differing = [f for f in sorted(committed) if not filecmp.cmp(tmp_path / f, CONTRACTS / f, shallow=False)]
    assert not differing, f"contracts drifted from the code: {differing}; run `make contracts`"


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_each_golden_example_satisfies_its_schema(name: str) -> None:
    schema = json.loads((CONTRACTS / "events" / f"{name}.schema.json").read_text())
    example = json.loads((CONTRACTS / "events" / f"{name}.example.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(example)


def test_schemas_refuse_unknown_fields() -> None:
    for name in EVENT_TYPES:
        schema = json.loads((CONTRACTS / "events" / f"{name}.schema.json").read_text())
        example = json.loads((CONTRACTS / "events" / f"{name}.example.json").read_text())
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**example, "unexpected": 1}, schema)


def test_v1_contracts_only_grow() -> None:
    generator = _generator()
    baseline = generator.shapes()
    generator.check_compatible(baseline, baseline)

    def changed(edit) -> dict:  # type: ignore[no-untyped-def]
        current = json.loads(json.dumps(baseline))
        edit(current["cc.interaction.offered.v1"])
        return current

    grown = changed(lambda s: s["properties"].update(note={"type": "string"}))
    generator.check_compatible(baseline, grown)
    more_channels = changed(lambda s: s["properties"]["channel"]["enum"].append("video"))
    generator.check_compatible(baseline, more_channels)

    breaking = {
        "field removed": changed(lambda s: s["properties"].pop("queue_id")),
        "became required": changed(lambda s: s["required"].append("customer_ref")),
        "became": changed(lambda s: s["properties"]["queue_id"].update(type="integer")),
        "value 'voice' removed": changed(lambda s: s["properties"]["channel"]["enum"].remove("voice")),
    }
    for expected, current in breaking.items():
        with pytest.raises(generator.IncompatibleContract, match=expected):
            generator.check_compatible(baseline, current)
    with pytest.raises(generator.IncompatibleContract, match="event type removed"):
        generator.check_compatible(baseline, {k: v for k, v in baseline.items() if k != "cc.interaction.offered.v1"})
