"""The OpenAPI documents themselves: what a client generator reads. Built from the apps as they
are served (no servers needed: the documents depend on the routes only), and one real 422
answer compared with the schema the document gives for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from relais.rebuild import load_spec
from shared.auth import LocalIssuer
from shared.config import SERVICES, Settings
from shared.openapi_declarations import ErrorOut
from shared.reference import codes
from shared.reference_api import CodeList
from shared.service import create_app

pytestmark = pytest.mark.app


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("openapi")
    return {
        name: create_app(load_spec(name), Settings(data_dir=root)).openapi() for name in SERVICES
    }


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, op) for p, item in doc["paths"].items() for m, op in item.items()]


def test_every_business_operation_declares_the_bearer_scheme_and_its_refusals(
    documents: dict[str, dict[str, Any]],
) -> None:
    for name, doc in documents.items():
        scheme = doc["components"]["securitySchemes"]["bearer"]
        assert (scheme["type"], scheme["scheme"]) == ("http", "bearer"), name
        for path, method, op in operations(doc):
            if path in ("/health", "/metrics", "/asyncapi.json"):
                assert "security" not in op, f"{name} {path} needs no token"
                continue
            assert op.get("security") == [{"bearer": []}], f"{name} {method} {path}"
            assert "401" in op["responses"], f"{name} {method} {path}"
            if not path.startswith("/reference"):
                assert "403" in op["responses"], f"{name} {method} {path}"


def test_every_operation_answers_with_a_model_and_the_one_error_body(
    documents: dict[str, dict[str, Any]],
) -> None:
    for name, doc in documents.items():
        assert "HTTPValidationError" not in doc["components"]["schemas"], name
        for path, method, op in operations(doc):
            ok = [s for s in op["responses"] if s.startswith("2")]
            assert ok, f"{name} {method} {path}"
            for status in ok:
                content = op["responses"][status].get("content", {})
                assert any(c.get("schema") for c in content.values()), f"{name} {path} {status}"
            for status, answer in op["responses"].items():
                if status.startswith(("4", "5")) and not (path == "/health" and status == "503"):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (name, path)


def test_casework_updates_declare_if_match_428_and_etag(
    documents: dict[str, dict[str, Any]],
) -> None:
    doc = documents["casework"]
    stage = doc["paths"]["/cases/{case_id}/stage"]["post"]
    headers = {p["name"]: p for p in stage["parameters"] if p["in"] == "header"}
    assert headers["If-Match"]["required"] is True
    assert headers["Idempotency-Key"]["required"] is False
    assert {"409", "428", "422", "404", "202", "503", "504"} <= set(stage["responses"])
    assert "ETag" in stage["responses"]["200"]["headers"]
    read = doc["paths"]["/cases/{case_id}"]["get"]
    assert "ETag" in read["responses"]["200"]["headers"]
    assert not [p for p in read.get("parameters", []) if p["name"] == "If-Match"]
    opening = doc["paths"]["/cases"]["post"]
    assert "428" not in opening["responses"], "opening a case needs no If-Match"


def test_closed_code_lists_are_enums_that_name_their_reference(
    documents: dict[str, dict[str, Any]],
) -> None:
    report = documents["intake"]["components"]["schemas"]["ReportIn"]["properties"]
    assert report["channel"]["enum"] == list(codes().channels)
    assert report["channel"]["x-reference"] == "/reference/channels"
    assert report["concerns"]["items"]["enum"] == list(codes().concerns)
    # A deployment's own list (its communes) is named, not frozen into the contract.
    assert report["commune"]["x-reference"] == "/reference/communes"
    assert "enum" not in report["commune"]
    listing = documents["referral"]["paths"]["/reference/{list_name}"]["get"]
    (param,) = listing["parameters"]
    names = documents["referral"]["components"]["schemas"][param["schema"]["$ref"].split("/")[-1]]
    assert set(names["enum"]) == {c.value for c in CodeList}


def test_the_statistics_query_is_declared(documents: dict[str, dict[str, Any]]) -> None:
    op = documents["reporting"]["paths"]["/statistics/{indicator}"]["get"]
    declared = {p["name"] for p in op["parameters"]}
    assert {"from", "to", "period", "by", "format", "commune", "concern"} <= declared


def _accepts(schema: dict[str, Any], value: Any, components: dict[str, Any]) -> None:
    """A small JSON Schema check, enough for the error body (objects, arrays, strings)."""
    if "$ref" in schema:
        _accepts(components[schema["$ref"].split("/")[-1]], value, components)
        return
    if "anyOf" in schema:
        errors = []
        for branch in schema["anyOf"]:
            try:
                _accepts(branch, value, components)
                return
            except AssertionError as exc:
                errors.append(exc)
        raise AssertionError(f"{value!r} matches no branch: {errors}")
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict), value
        for required in schema.get("required", []):
            assert required in value, f"{required} missing from {value}"
        for key, item in value.items():
            if key in schema.get("properties", {}):
                _accepts(schema["properties"][key], item, components)
            else:
                assert schema.get("additionalProperties", True) is not False, key
    elif kind == "array":
        assert isinstance(value, list), value
        for item in value:
            _accepts(schema.get("items", {}), item, components)
    elif kind == "string":
        assert isinstance(value, str), value
    elif kind == "null":
        assert value is None


async def test_a_real_422_matches_the_documented_error_body(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    app = create_app(load_spec("casework"), settings)
    doc = app.openapi()
    token = LocalIssuer.load(settings.keys_dir).mint(
        user="w", agency="agency-a", roles=["case_worker"]
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://cw"
    ) as client:
        answer = await client.post(
            "/cases/c-1/stage",
            headers={"Authorization": f"Bearer {token}", "If-Match": '"3"'},
            json={"to": 5},
        )
    assert answer.status_code == 422, answer.text
    body = answer.json()
    documented = doc["paths"]["/cases/{case_id}/stage"]["post"]["responses"]["422"]
    schema = documented["content"]["application/json"]["schema"]
    _accepts(schema, body, doc["components"]["schemas"])
    ErrorOut.model_validate(body)
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["fields"][0]["field"] == "to"


async def test_a_number_is_not_a_date_in_a_query(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    app = create_app(load_spec("intake"), settings)
    token = LocalIssuer.load(settings.keys_dir).mint(
        user="s", agency="agency-a", roles=["screener"]
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://in"
    ) as client:
        answer = await client.get(
            "/reports", params={"received_to": "0.5"}, headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 422, answer.text
    error = ErrorOut.model_validate(answer.json()).error
    assert error.fields is not None and error.fields[0].field == "received_to"


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("immediate_danger", 1, "bool_type"),
        ("immediate_danger", "true", "bool_type"),
        ("received_at", 0.5, "datetime_type"),
        ("received_at", "0.5", "datetime_type"),
    ],
)
def test_bodies_are_taken_as_written(field: str, value: Any, kind: str) -> None:
    from pydantic import ValidationError

    from services.intake.web.schemas import ReportIn

    body: dict[str, Any] = {
        "channel": "walk_in",
        "received_at": "2026-01-05T10:00:00Z",
        "commune": "unknown",
        "concerns": ["other"],
        "children": [{"name": "A", "age_years": 7}],
        field: value,
    }
    with pytest.raises(ValidationError) as refused:
        ReportIn.model_validate(body)
    assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [((field,), kind)]
    body[field] = {"immediate_danger": True, "received_at": "2026-01-05T10:00:00Z"}[field]
    ReportIn.model_validate(body)  # the same, written as JSON means it


def test_nested_values_are_taken_as_written() -> None:
    from pydantic import ValidationError

    from services.intake.web.schemas import ReportIn

    body: dict[str, Any] = {
        "channel": "walk_in",
        "received_at": "2026-01-05T10:00:00Z",
        "commune": "unknown",
        "concerns": ["other"],
        "children": [{"name": "A", "age_years": "7"}],
    }
    with pytest.raises(ValidationError) as refused:
        ReportIn.model_validate(body)
    assert refused.value.errors()[0]["loc"] == ("children", 0, "age_years")
    body["children"][0]["age_years"] = 7.0  # JSON Schema's integer
    assert ReportIn.model_validate(body).children[0].age_years == 7


def test_if_match_is_optional_where_the_command_may_create_the_record(
    documents: dict[str, dict[str, Any]],
) -> None:
    paths = documents["referral"]["paths"]
    for path, method in (("/staff", "post"), ("/units/{unit_id}", "put")):
        (if_match,) = [p for p in paths[path][method]["parameters"] if p["name"] == "If-Match"]
        assert if_match["required"] is False, path
        assert "428" in paths[path][method]["responses"], path
    accept = paths["/referrals/{referral_id}/accept"]["post"]["parameters"]
    assert [p["required"] for p in accept if p["name"] == "If-Match"] == [True]


async def test_every_service_serves_the_code_lists_in_both_languages(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    token = LocalIssuer.load(settings.keys_dir).mint(
        user="s", agency="agency-a", roles=["statistician"]
    )
    signed = {"Authorization": f"Bearer {token}"}
    for name in SERVICES:
        app = create_app(load_spec(name), settings)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://svc",
        ) as client:
            index = (await client.get("/reference", headers=signed)).json()
            assert {entry["name"] for entry in index["lists"]} == {c.value for c in CodeList}
            concerns = (await client.get("/reference/concerns", headers=signed)).json()
            assert [c["code"] for c in concerns["codes"]] == list(codes().concerns)
            first = concerns["codes"][0]["label"]
            assert first["en"] and first["fr"] and first["en"] != first["fr"], name
            roles = (await client.get("/reference/roles", headers=signed)).json()
            assert "case_worker" in {c["code"] for c in roles["codes"]}
            unknown = await client.get("/reference/planets", headers=signed)
            assert unknown.status_code == 422 and unknown.json()["error"]["code"]
            assert (await client.get("/reference")).status_code == 401
