"""The REST API against its own OpenAPI schema: schemathesis generates valid and invalid requests
for every /api/v1 operation from the live `/schema/openapi.json` and checks that none gets a
server error and every answer (status, content type, headers, body) is the one documented.

Each operation is fuzzed twice in valid mode: with free path parameters (mostly 404/422) and
with the ids of seeded rows (conversations, contacts, a campaign, ...), so the success answers
are checked against the schema too.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Api

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
# Examples per operation and pass: every operation (about 90 now) is fuzzed in all three passes,
# about 2,000 requests per database; the examples per pass are kept low so the suite stays short.
PASSES = [("free ids", GenerationMode.POSITIVE, 8), ("invalid", GenerationMode.NEGATIVE, 5),
          ("seeded ids", GenerationMode.POSITIVE, 8)]
# A receiver that never answers: `.invalid` never resolves (RFC 6761), so deliveries fail as refused
# at delivery time, and registration accepts it (only addresses that resolve to private ranges are refused).
DEAD_URL = "https://socialdesk-fuzz.invalid/fuzzed"


def seed(api: Api) -> dict[str, int]:
    """Rows behind the ids of the seeded pass: a DM and a comment conversation, their contact, a
    campaign, a webhook endpoint, and the agent (the admin cannot deactivate itself)."""
    dm = api.dm()
    api.comment("price?")
    channel_id = api.ok("GET", "/channels")[0]["id"]
    campaign = api.ok("POST", "/campaigns", 201, json={"name": "Seed", "channel_id": channel_id,
                                                       "actions": [{"kind": "add_tag", "tag": "seen"}]})
    endpoint = api.ok("POST", "/webhooks", 201, json={"url": DEAD_URL, "events": ["message.sent"]})
    spare = api.ok("POST", "/tokens", 201, json={"name": "spare", "user_id": api.user_ids["agent"]})
    return {"conversation_id": dm, "contact_id": api.conversation(dm).contact_id, "channel_id": channel_id,
            "campaign_id": campaign["id"], "endpoint_id": endpoint["id"], "user_id": api.user_ids["agent"],
            "token_id": spare["details"]["id"]}


FRAMING = {"content-length", "transfer-encoding", "host", "connection"}


def local_only(case: Case) -> Case:
    """A fuzzed webhook URL must never point outside this machine: deliveries would follow. Fuzzed
    framing headers (a `Content-Length: \\`) are dropped: uvicorn answers those itself, in plain text,
    before any route of ours runs, so they test the HTTP server, not this API's schema."""
    if isinstance(case.body, dict) and isinstance(case.body.get("url"), str):
        case.body["url"] = DEAD_URL
    if case.headers:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() not in FRAMING}
    return case


def fuzz(operation: APIOperation, mode: GenerationMode, examples: int, call: Any,
         path_parameters: dict[str, int] | None) -> None:
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters).map(local_only))
    def run(case: Case) -> None:
        call(case)

    run()


def test_the_schema_declares_bearer_tokens_on_the_rest_api_only(api: Api) -> None:
    """Clients and generators learn from the schema that /api/v1 takes `Authorization: Bearer`,
    and that Meta's webhook, the health check and tracked links take nothing."""
    document = api.stack.http.get(f"{api.url}/schema/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert [(s["type"], s["scheme"]) for s in schemes.values()] == [("http", "bearer")]
    (name,) = schemes
    assert "security" not in document  # no global requirement: it would cover the public routes
    operations = {(path, method): operation for path, item in document["paths"].items()
                  for method, operation in item.items()}
    rest = [key for key in operations if key[0].startswith("/api/v1/")]
    assert len(rest) >= 30
    assert all(operations[key].get("security") == [{name: []}] for key in rest), rest
    for public in [("/health", "get"), ("/webhooks/meta", "get"), ("/webhooks/meta", "post"), ("/r/{token}", "get")]:
        assert "security" not in operations[public], public
    # What the schema declares is what works: the scheme gets in, no token is a 401, public stays public.
    token = {"Authorization": f"Bearer {api.tokens['agent']}"}
    assert api.stack.http.get(f"{api.url}/api/v1/conversations", headers=token).status_code == 200
    assert api.stack.http.get(f"{api.url}/api/v1/conversations").status_code == 401
    assert api.stack.http.get(f"{api.url}/health").status_code == 200


def test_every_operation_conforms_to_the_schema(api: Api) -> None:
    ids = seed(api)
    schema = schemathesis.openapi.from_url(f"{api.url}/schema/openapi.json").include(path_regex="^/api/v1/")
    headers = {"Authorization": f"Bearer {api.tokens['admin']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    def call(case: Case) -> None:
        case.call_and_validate(base_url=api.url, headers=headers, checks=CHECKS)

    failures: list[str] = []
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        for label, mode, examples in PASSES:
            seeded = {name: ids[name] for name in names if name in ids} if label == "seeded ids" else None
            if "token_id" in names:  # a free id may be the fuzzer's own token: revoked, all later calls get 401
                seeded = {"token_id": ids["token_id"]}
            if label == "seeded ids" and not seeded:
                continue
            try:
                fuzz(operation, mode, examples, call, seeded)
            except Unsatisfiable:  # nothing to make invalid: an operation without parameters or body
                assert mode == GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure
                failures.append(f"{operation.label} [{label}]: {exc}")
    assert not failures, "\n\n".join(failures)
    assert api.get("/conversations").status_code == 200  # the fuzzer's token worked to the end
