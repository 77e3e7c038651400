"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis).

Every operation gets schema-valid (positive) and schema-violating (negative) cases, sent to the
ASGI app in-process; schemathesis' checks then require no 5xx, a declared status code, a body
and headers matching the schema, and schema-violating requests rejected with a 4xx. Bounded by example counts, not by wall time, so CI is
reproducible (hypothesis' database is off and the seed fixed).
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from qa.engine import Engine
from qa.engine import config_from_settings
from web.app import create_app

TOKEN = "fuzz-" + "z" * 27
MIN_CASES = 1000
PER_MODE = int(os.environ.get("QA_FUZZ_EXAMPLES", "130"))  # raise it for a longer soak
COSTLY = {"POST /api/documents": 40, "POST /api/admin/reindex": 5}  # each success rebuilds the index


@pytest.fixture(scope="module")
def app(reference_settings, embedder, tmp_path_factory):
    """The app over a private copy of the index, with admin enabled and generation pointed nowhere."""
    import shutil

    index_dir = tmp_path_factory.mktemp("fuzz") / "index"
    shutil.copytree(reference_settings.index_dir, index_dir)
    cfg = reference_settings.model_copy(update={
        "index_dir": index_dir, "admin_token": SecretStr(TOKEN), "max_upload_bytes": 4096,
        "llm_base_url": "http://127.0.0.1:9/v1", "llm_timeout_s": 2.0})  # port 9 (discard): refused at once
    engine = Engine(embedder, config_from_settings(cfg))
    engine.load(index_dir)
    return create_app(cfg, engine=engine)


def fuzz(operation, mode: GenerationMode, count: list[int]) -> str | None:
    """Run one operation in one mode; the failure report, or None."""
    examples = min(COSTLY.get(operation.label, PER_MODE), PER_MODE)

    @seed(20240601)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        count[0] += 1
        # Excluded: "schema-valid data must get 2xx". Some rules can't be said in JSON Schema (a
        # question of only whitespace, a NUL, an unknown doc id) and get a deliberate 4xx.
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                               excluded_checks=[positive_data_acceptance])

    try:
        check()
    except Unsatisfiable:  # nothing to negate: the operation takes no parameters and no body
        assert mode is GenerationMode.NEGATIVE
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a FailureGroup: reported below
        return f"{operation.label} ({mode.value}): {exc}"
    return None


@pytest.mark.slow
def test_api_conforms_to_its_schema_under_fuzzing(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    count, per_operation, failures = [0], {}, []
    for result in schema.get_all_operations():
        operation = result.ok()
        before = count[0]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures.append(fuzz(operation, mode, count))
        per_operation[operation.label] = count[0] - before
    failures = [f for f in failures if f]
    print(f"\nschemathesis: {count[0]} cases, {len(failures)} failing operation/modes: {per_operation}")
    assert not failures, "\n\n".join(failures)
    assert count[0] >= MIN_CASES * PER_MODE // 130, per_operation
