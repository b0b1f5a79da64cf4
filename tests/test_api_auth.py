"""API keys: two roles, 401/403, stored hashed, generated once when none is configured;
on SQLite and PostgreSQL."""

import hashlib
import re
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select

from api.auth import Caller, KeyConfigError, configured_keys, require_role
from api.models import ApiKey
from tests.api_support import (
    BACKENDS,
    CHECKOUT_KEY,
    PLANNER_KEY,
    database_url,
    keyed,
    quick_start,
    running_service,
    service_settings,
)
from tests.api_support import service_fixture as _service_fixture

NO_JOB = "/v1/plans/00000000-0000-0000-0000-000000000000"
PLANNER_ENDPOINTS = [
    ("get", NO_JOB),
    ("post", "/v1/plans"),
    ("post", f"{NO_JOB}/cancel"),
    ("get", f"{NO_JOB}/routes.geojson"),
    ("get", f"{NO_JOB}/map"),
]


def add_role_probes(app: FastAPI) -> None:
    """One endpoint per role (the checkout endpoints come with the promise API)."""

    @app.get("/probe/checkout")
    def checkout_probe(caller: Annotated[Caller, Depends(require_role("checkout"))]) -> dict:
        return {"role": caller.role}

    @app.get("/probe/planner")
    def planner_probe(caller: Annotated[Caller, Depends(require_role("planner"))]) -> dict:
        return {"role": caller.role}


client = _service_fixture(extend=add_role_probes, quick_start=True)


@pytest.mark.parametrize("method, path", PLANNER_ENDPOINTS + [("get", "/probe/checkout")])
def test_no_key_is_401_with_www_authenticate(client, method, path):
    response = client.request(method, path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "ApiKey"
    assert "X-API-Key" in response.json()["detail"]


@pytest.mark.parametrize("key", ["not-a-key", CHECKOUT_KEY + "x", "", " "])
def test_unknown_key_is_401(client, key):
    for path in ("/probe/checkout", "/probe/planner", NO_JOB):
        response = client.get(path, headers=keyed(key))
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "ApiKey"


@pytest.mark.parametrize("method, path", PLANNER_ENDPOINTS + [("get", "/probe/planner")])
def test_checkout_key_is_403_on_planner_endpoints(client, method, path):
    response = client.request(method, path, headers=keyed(CHECKOUT_KEY), json={})
    assert response.status_code == 403
    assert response.json()["detail"] == "this is a checkout key; this endpoint needs a planner key"


def test_planner_key_is_403_on_checkout_endpoints(client):
    response = client.get("/probe/checkout", headers=keyed(PLANNER_KEY))
    assert response.status_code == 403


def test_each_role_passes_its_own_endpoints(client):
    assert client.get("/probe/checkout", headers=keyed(CHECKOUT_KEY)).json() == {"role": "checkout"}
    assert client.get("/probe/planner", headers=keyed(PLANNER_KEY)).json() == {"role": "planner"}
    # Past the key check, the planner endpoint answers for itself: no such job.
    assert client.get(NO_JOB, headers=keyed(PLANNER_KEY)).status_code == 404


def test_keys_are_stored_as_sha256_never_in_plain(client):
    with client.app.state.db.transaction(write=False) as session:
        rows = session.scalars(select(ApiKey).order_by(ApiKey.role)).all()
        stored = [[str(getattr(r, c.key)) for c in ApiKey.__table__.columns] for r in rows]
    assert [(r.role, r.source) for r in rows] == [("checkout", "env"), ("planner", "env")]
    for row, key in zip(rows, [CHECKOUT_KEY, PLANNER_KEY], strict=True):
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert row.key_prefix == key[:6]
    assert not any(
        key in value for key in (CHECKOUT_KEY, PLANNER_KEY) for r in stored for value in r
    )


def test_healthz_and_openapi_need_no_key_and_the_spec_declares_the_key(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": spec["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    operation = spec["paths"]["/v1/plans"]["post"]
    assert operation["security"] == [{"ApiKey": []}]
    assert {"401", "403", "422"} <= set(operation["responses"])


GENERATED = re.compile(r"lastmile: created API keys \(shown once\): checkout=(\S+) planner=(\S+)")


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_configured_keys_one_per_role_is_generated_and_printed_only_once(
    backend, tmp_path, capsys
):
    with database_url(backend, tmp_path) as url:
        settings = service_settings(url, tmp_path, keys=False, **quick_start(tmp_path))
        with running_service(settings, add_role_probes) as client:
            printed = GENERATED.findall(capsys.readouterr().err)
            assert len(printed) == 1
            checkout, planner = printed[0]
            assert client.get("/probe/checkout", headers=keyed(checkout)).status_code == 200
            assert client.get("/probe/planner", headers=keyed(planner)).status_code == 200
            assert client.get("/probe/planner", headers=keyed(checkout)).status_code == 403
            assert client.get("/probe/planner").status_code == 401  # never open

        with running_service(settings, add_role_probes) as client:  # second start
            assert "created API keys" not in capsys.readouterr().err
            assert client.get("/probe/checkout", headers=keyed(checkout)).status_code == 200

        # Keys configured later replace the generated ones of their role.
        configured = service_settings(
            url, tmp_path, checkout_keys=[CHECKOUT_KEY], planner_keys=[], **quick_start(tmp_path)
        )
        with running_service(configured, add_role_probes) as client:
            assert "created API keys" not in capsys.readouterr().err
            assert client.get("/probe/checkout", headers=keyed(checkout)).status_code == 401
            assert client.get("/probe/checkout", headers=keyed(CHECKOUT_KEY)).status_code == 200
            assert client.get("/probe/planner", headers=keyed(planner)).status_code == 200


def test_a_key_removed_from_the_configuration_is_revoked_at_the_next_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'lastmile.db'}"
    first = service_settings(url, tmp_path, **quick_start(tmp_path))
    with running_service(first, add_role_probes) as client:
        assert client.get("/probe/planner", headers=keyed(PLANNER_KEY)).status_code == 200
    other = "another-planner-key-5e1f"
    later = service_settings(url, tmp_path, planner_keys=[other], **quick_start(tmp_path))
    with running_service(later, add_role_probes) as client:
        assert client.get("/probe/planner", headers=keyed(PLANNER_KEY)).status_code == 401
        assert client.get("/probe/planner", headers=keyed(other)).status_code == 200


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_keys_from_a_file(tmp_path, suffix):
    keys = tmp_path / f"keys{suffix}"
    keys.write_text(
        "checkout: [file-checkout-key-0001]\nplanner:\n  - file-planner-key-0001\n"
        if suffix == ".yaml"
        else '{"checkout": ["file-checkout-key-0001"], "planner": ["file-planner-key-0001"]}'
    )
    url = f"sqlite:///{tmp_path / 'lastmile.db'}"
    settings = service_settings(
        url, tmp_path, keys=False, api_keys_file=keys, **quick_start(tmp_path)
    )
    with running_service(settings, add_role_probes) as client:
        headers = keyed("file-planner-key-0001")
        assert client.get("/probe/planner", headers=headers).status_code == 200
        assert client.get("/probe/checkout", headers=headers).status_code == 403
        with client.app.state.db.transaction(write=False) as session:
            assert set(session.scalars(select(ApiKey.source))) == {"file"}


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        ({"checkout_keys": ["short"]}, "LASTMILE_CHECKOUT_KEYS[0]"),
        ({"checkout_keys": ["has a space in it!!"]}, "visible ASCII"),
        ({"checkout_keys": [PLANNER_KEY], "planner_keys": [PLANNER_KEY]}, "also a checkout key"),
    ],
)
def test_keys_the_service_refuses_to_start_with(tmp_path, overrides, complaint):
    settings = service_settings("sqlite://", tmp_path, **overrides)
    with pytest.raises(KeyConfigError, match=re.escape(complaint)):
        configured_keys(settings)


def test_a_malformed_keys_file_is_refused_with_its_path(tmp_path):
    keys = tmp_path / "keys.yaml"
    keys.write_text("admin: [some-long-admin-key-0001]\n")
    settings = service_settings("sqlite://", tmp_path, api_keys_file=keys)
    with pytest.raises(KeyConfigError, match="unknown role 'admin'"):
        configured_keys(settings)
