"""The closed code lists of request bodies, as enums that name their ``/reference`` list (a
list a deployment supplies in its own files is named, not frozen into the contract)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.openapi_declarations import document_operations
from shared.reference_api import CodeList, codes_of

# (schema, property) -> the list its values come from; "*" for any request schema. Only fields
# whose validator checks the same list (shared.validation, the services' bodies).
CLOSED: dict[tuple[str, str], tuple[CodeList, ...]] = {
    ("*", "channel"): (CodeList.channels,),
    ("*", "commune"): (CodeList.communes,),
    ("AgencyBody", "commune"): (CodeList.departments, CodeList.communes),
    ("UnitBody", "commune"): (CodeList.departments, CodeList.communes),
    ("*", "concerns"): (CodeList.concerns,),
    ("*", "concern"): (CodeList.concerns,),
    ("*", "sex"): (CodeList.sexes,),
    ("*", "child_sex"): (CodeList.sexes,),
    ("*", "sexes"): (CodeList.sexes,),
    ("*", "urgency"): (CodeList.urgencies,),
    ("*", "vulnerabilities"): (CodeList.vulnerabilities,),
    ("ReferBody", "service_kind"): (CodeList.service_kinds,),
    # Query filters, by path.
    ("/units", "commune"): (CodeList.departments, CodeList.communes),
    ("/units", "service_kind"): (CodeList.service_kinds,),
    ("*", "service_kinds"): (CodeList.service_kinds,),
    ("*", "expected_services"): (CodeList.service_kinds,),
    ("*", "competency"): (CodeList.competencies,),
    ("AssessmentBody", "level"): (CodeList.competency_levels,),
    ("StaffBody", "sector"): (CodeList.sectors,),
    ("TrainingBody", "sector"): (CodeList.sectors,),
    ("*", "child_age_band"): (CodeList.age_bands,),
}
EXTRA_VALUES: dict[tuple[str, str], list[str]] = {("*", "child_age_band"): ["unknown"]}


def _request_schemas(doc: dict[str, Any]) -> set[str]:
    schemas = doc.get("components", {}).get("schemas", {})
    todo: list[str] = []

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"].rsplit("/", 1)[-1]
            for v in node.values():
                yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for _, _, operation in document_operations(doc):
        if "requestBody" in operation:
            todo.extend(refs(operation["requestBody"]))
    found: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in found and name in schemas:
            found.add(name)
            todo.extend(refs(schemas[name]))
    return found


# Lists a deployment supplies in its own files (RELAIS_LOCATIONS_FILE,
# RELAIS_COMPETENCIES_FILE): named by their reference endpoint, not frozen into the contract.
DEPLOYMENT_LISTS = frozenset(
    {
        CodeList.communes,
        CodeList.departments,
        CodeList.competencies,
        CodeList.competency_levels,
        CodeList.sectors,
    }
)


def _enumerate(node: dict[str, Any], values: list[str] | None, href: str) -> bool:
    """Give the string schema in ``node`` (or in its array items, or its non-null branch) an
    enum (or, for ``values`` None, only the reference list's address); False if it is not a
    string schema."""
    if node.get("type") == "string" and "enum" not in node:
        if values is not None:
            node["enum"] = values
        else:
            node["description"] = (node.get("description", "") + f" A code of GET {href}.").strip()
        node["x-reference"] = href
        return True
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return _enumerate(node["items"], values, href)
    return any(
        _enumerate(branch, values, href)
        for branch in node.get("anyOf", [])
        if isinstance(branch, dict) and branch.get("type") != "null"
    )


def _values(key: tuple[str, str], lists: tuple[CodeList, ...]) -> list[str] | None:
    if any(which in DEPLOYMENT_LISTS for which in lists):
        return None
    values = [code for which in lists for code in codes_of(which)]
    return values + [v for v in EXTRA_VALUES.get(key, []) if v not in values]


def close_code_lists(doc: dict[str, Any]) -> None:
    schemas = doc.get("components", {}).get("schemas", {})
    # Query filters on a closed list: a value outside it is refused (invalid_filter).
    for path, _, operation in document_operations(doc):
        for parameter in operation.get("parameters", []):
            name = parameter.get("name", "")
            key = (path, name) if (path, name) in CLOSED else ("*", name)
            if parameter.get("in") == "query" and key in CLOSED:
                href = f"/reference/{CLOSED[key][-1].value}"
                _enumerate(parameter.get("schema", {}), _values(key, CLOSED[key]), href)
    for name in _request_schemas(doc):
        for prop, node in schemas[name].get("properties", {}).items():
            key = (name, prop) if (name, prop) in CLOSED else ("*", prop)
            lists = CLOSED.get(key)
            if lists is None:
                continue
            _enumerate(node, _values(key, lists), f"/reference/{lists[-1].value}")
