"""The REST API against its own OpenAPI schema: schemathesis generates valid and invalid requests
for every /api/v1 operation from the live `/schema/openapi.json` and checks that none gets a
server error and every answer (status, content type, headers, body) is the one documented."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Api
from tests.servers import free_port

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}  # per operation; keeps the run under a minute
DEAD_URL = f"http://127.0.0.1:{free_port()}/fuzzed"


def seed(api: Api) -> None:
    """Something behind the low ids the fuzzer tries first (1, 2, ...): conversations of each
    kind, a contact, a campaign, a webhook endpoint."""
    api.dm()
    api.comment("price?")
    channel_id = api.ok("GET", "/channels")[0]["id"]
    api.ok("POST", "/campaigns", 201, json={"name": "Seed", "channel_id": channel_id,
                                            "actions": [{"kind": "add_tag", "tag": "seen"}]})
    api.ok("POST", "/webhooks", 201, json={"url": DEAD_URL, "events": ["message.sent"]})


def local_only(case: Case) -> Case:
    """A fuzzed webhook URL must never point outside this machine: deliveries would follow."""
    if isinstance(case.body, dict) and isinstance(case.body.get("url"), str):
        case.body["url"] = DEAD_URL
    return case


def test_every_operation_conforms_to_the_schema(api: Api) -> None:
    seed(api)
    schema = schemathesis.openapi.from_url(f"{api.url}/schema/openapi.json").include(path_regex="^/api/v1/")
    headers = {"Authorization": f"Bearer {api.tokens['admin']}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode).map(local_only))
            def run(case: Case) -> None:
                case.call_and_validate(base_url=api.url, headers=headers, checks=CHECKS)

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)
