"""schemathesis against the OpenAPI document of every service people call (intake has its own, signed
requests: services/intake/tests/test_openapi_fuzz.py), on the running apps with real Kafka and
PostgreSQL: no server error, every answer as documented, nothing the schema forbids accepted, and
the stateful phase following one call's output into the next."""

from pathlib import Path

import pytest

from coachline.auth import Role
from coachline.testing import Identity

from .conftest import SERVICES, Stack
from .fuzzing import run_schemathesis

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", SERVICES)
async def test_any_request_gets_a_documented_answer(stack: Stack, identity: Identity, service: str,
                                                    tmp_path: Path) -> None:
    # Every role at once, in a tenant of its own, so each route gets past its role check.
    token = identity.token("fuzz", *Role, subject="fuzzer", agent_id="a-fuzz", teams=("t-fuzz",),
                           units=("u-fuzz",))
    await run_schemathesis(stack.urls[service], token, tmp_path)
