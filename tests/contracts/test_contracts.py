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
