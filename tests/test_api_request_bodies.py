"""Every number and every instant of every request body, found in the OpenAPI schema:
a non-finite number (issue 13, item 5) or an instant near the limits of ``datetime``
(item 6) is a 422 naming the field's path, never a 500; coordinates 0,0 are refused as
probably missing (item 11)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import hypothesis
import pytest
from hypothesis import strategies as st

from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, keyed
from tests.api_support import service_fixture as _service_fixture

service = _service_fixture(backends=("sqlite",), quick_start=True)

NON_FINITE = ("NaN", "Infinity", "-Infinity", "1e999", "-1e999")
EXTREME_INSTANTS = (
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999-23:59",
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00+23:59",
)


def _schema() -> dict:
    from api.app import create_app

    return create_app().openapi()


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _leaves(schema: dict, node: dict, path: tuple = ()):
    """(path, kind) of every number, integer and date-time below ``node``: a path is the
    keys and list indices (0) from the body's root."""
    node = _resolve(schema, node)
    for alternative in node.get("anyOf", []) + node.get("oneOf", []):
        yield from _leaves(schema, alternative, path)
    kind = node.get("type")
    if kind in ("number", "integer"):
        yield path, kind
    elif kind == "string" and node.get("format") == "date-time":
        yield path, "date-time"
    elif kind == "array" and "items" in node:
        yield from _leaves(schema, node["items"], (*path, 0))
    for name, member in node.get("properties", {}).items():
        yield from _leaves(schema, member, (*path, name))


def _fields() -> list[tuple[str, str, tuple, str]]:
    """(method, path, field path, kind) of every leaf of every request body."""
    schema = _schema()
    out = set()
    for route, methods in schema["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody")
            if body is None:
                continue
            root = body["content"]["application/json"]["schema"]
            out |= {(method, route, path, kind) for path, kind in _leaves(schema, root)}
    return sorted(out, key=repr)


FIELDS = _fields()


def _body_text(path: tuple, literal: str) -> str:
    """A JSON text with ``literal`` (raw, e.g. ``NaN``) at ``path``; nothing else."""
    marker = "__LITERAL__"
    value: object = marker
    for step in reversed(path):
        value = [value] if step == 0 else {step: value}
    return json.dumps(value).replace(json.dumps(marker), literal)


def _post(service, method: str, route: str, text: str):
    url = route.replace("{job_id}", str(uuid.uuid4()))
    headers = {"content-type": "application/json"}
    response = None
    for key in (CHECKOUT_KEY, PLANNER_KEY):
        response = service.request(method, url, content=text, headers=headers | keyed(key))
        if response.status_code not in (401, 403):
            break
    return response


def _strict_json(response) -> object:
    """The answer's JSON, refusing ``NaN`` and ``Infinity`` (not JSON)."""

    def refuse(literal: str):
        raise AssertionError(f"the answer holds {literal}: not JSON")

    return json.loads(response.text, parse_constant=refuse)


def _errors_at(response, path: tuple) -> list[dict]:
    detail = _strict_json(response)["detail"]
    return [d for d in detail if tuple(d["loc"]) == ("body", *path)]


def test_the_schema_walk_finds_the_fields_the_issue_names():
    found = {(route, path) for _, route, path, _ in FIELDS}
    assert ("/v1/promise", ("address", "lat")) in found
    assert ("/v1/promise", ("requested_at",)) in found
    assert ("/v1/events", ("occurred_at",)) in found
    assert ("/v1/plans/{job_id}/replan", ("now",)) in found
    assert ("/v1/plans", ("time_limit_s",)) in found
    assert ("/v1/stock", ("rows", 0, "qty")) in found


NUMBERS = [f for f in FIELDS if f[3] in ("number", "integer")]


@pytest.mark.parametrize("literal", NON_FINITE)
@pytest.mark.parametrize(("method", "route", "path", "kind"), NUMBERS, ids=repr)
def test_a_non_finite_number_in_any_number_field_is_a_422_at_its_path(
    service, method, route, path, kind, literal
):
    response = _post(service, method, route, _body_text(path, literal))
    assert response.status_code == 422, response.text
    errors = _errors_at(response, path)
    assert errors, response.text
    assert any("finite" in e["msg"] for e in errors), errors


INSTANTS = [f for f in FIELDS if f[3] == "date-time"]


@pytest.mark.parametrize("literal", EXTREME_INSTANTS)
@pytest.mark.parametrize(("method", "route", "path", "kind"), INSTANTS, ids=repr)
def test_an_instant_near_the_limits_of_datetime_is_a_422_at_its_path(
    service, method, route, path, kind, literal
):
    response = _post(service, method, route, _body_text(path, json.dumps(literal)))
    assert response.status_code == 422, response.text
    errors = _errors_at(response, path)
    assert errors and "must be an instant from" in errors[0]["msg"], response.text


@hypothesis.settings(max_examples=60, deadline=None, derandomize=True)
@hypothesis.given(
    field=st.sampled_from(INSTANTS),
    moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    offset_min=st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
)
def test_any_instant_in_any_instant_field_is_answered_without_a_500(
    service, field, moment, offset_min
):
    method, route, path, _ = field
    text = moment.replace(tzinfo=timezone(timedelta(minutes=offset_min))).isoformat()
    response = _post(service, method, route, _body_text(path, json.dumps(text)))
    assert response.status_code < 500, response.text
    _strict_json(response)
    try:
        inside = (
            datetime(1970, 1, 1, tzinfo=UTC)
            <= datetime.fromisoformat(text)
            < datetime(2200, 1, 1, tzinfo=UTC)
        )
    except OverflowError:
        inside = False
    if not inside:
        assert response.status_code == 422 and _errors_at(response, path), response.text


# Every request body with coordinates, valid but for them (``None``: where lat and lon go).
WITH_COORDINATES = {
    ("post", "/v1/promise", ("address",)): {
        "lines": [{"sku": "SKU", "qty": 1}],
        "address": None,
    },
    ("post", "/v1/back-in-stock", ("address",)): {
        "sku": "SKU",
        "address": None,
        "channel": "email",
        "contact": "leo@example.com",
    },
    ("post", "/v1/orders", ("address",)): {
        "order_id": "O-0-0",
        "channel": "store",
        "lines": [{"sku": "SKU", "qty": 1}],
        "address": None,
        "service": "express",
        "slot": "2026-11-24T12:00:00+01:00",
    },
    ("post", "/v1/orders", ("orders", 0, "address")): {
        "orders": [
            {
                "order_id": "O-0-0",
                "channel": "app",
                "lines": [{"sku": "SKU", "qty": 1}],
                "address": None,
                "service": "eco",
                "slot": "2026-11-24T12:00:00+01:00",
            }
        ]
    },
    ("post", "/v1/events", ()): {
        "event_id": "e-0-0",
        "kind": "position",
        "plan_id": str(uuid.uuid4()),
        "occurred_at": "2026-11-24T09:00:00+01:00",
        "vehicle_id": "V1",
    },
}


def test_every_body_with_coordinates_is_covered():
    parents = {(m, r, p[:-1]) for m, r, p, _ in NUMBERS if p and p[-1] == "lat"}
    assert parents == set(WITH_COORDINATES)


@pytest.mark.parametrize(("method", "route", "parent"), list(WITH_COORDINATES), ids=repr)
def test_coordinates_0_0_are_refused_as_probably_missing(service, method, route, parent):
    body = json.loads(json.dumps(WITH_COORDINATES[(method, route, parent)]))
    if parent:
        where = body
        for step in parent[:-1]:  # a batch's order: ("orders", 0, "address")
            where = where[step]
        where[parent[-1]] = {"lat": 0, "lon": 0.0}
    else:
        body |= {"lat": 0.0, "lon": -0.0}
    response = _post(service, method, route, json.dumps(body))
    assert response.status_code == 422, response.text
    errors = _errors_at(response, parent)
    assert errors and "coordinates 0,0 look missing" in errors[0]["msg"], response.text
