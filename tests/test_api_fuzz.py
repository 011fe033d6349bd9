"""Property-based fuzzing of the whole API from its own OpenAPI document, in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from policy_service.app import create_app
from tests.conftest import RULES_DIR


def _app() -> Flask:
    return create_app({"rules_dir": RULES_DIR, "state_url": "memory://", "reload_interval": 0})


APP = _app()
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _close() -> Iterator[None]:
    yield
    APP.extensions["policy_service"].policies.current().close()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_answer_matches_the_document(case: schemathesis.Case) -> None:
    # Schema-valid requests may still be refused for reasons a schema cannot
    # say (an occurred_at far in the future): only the answers' shape is checked.
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )
