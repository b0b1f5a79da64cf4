from fastapi.testclient import TestClient

from api.app import create_app


def test_healthz_answers_ok_without_a_key():
    client = TestClient(create_app())
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_unknown_path_is_404_not_500():
    client = TestClient(create_app())
    assert client.get("/v0/nothing").status_code == 404
