"""Every reader of a file from outside refuses one beyond its documented size, naming the
file and the limit, before reading it whole (issue 13, item 14's class): a checked
plan.json, candidate sites, the API keys file, the server secret, VRPTW instances,
solutions and BKS tables, and the scenario folder, all through
:mod:`optimizer.io.file_limits`. The files are sparse: a byte past the limit costs no disk,
and a reader that read them whole would still only see zeros."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api import secret
from api.auth import KeyConfigError, configured_keys
from cli import app
from data.generator import generate, write
from optimizer.io import ScenarioError, load_scenario
from optimizer.io import scenario_reader as reader
from optimizer.io.candidates import CandidatesError, load_candidates
from optimizer.io.file_limits import (
    MAX_CANDIDATES_BYTES,
    MAX_KEYS_FILE_BYTES,
    MAX_PLAN_JSON_BYTES,
    MAX_VRPTW_FILE_BYTES,
    FileTooLargeError,
    read_bytes_within,
    read_text_within,
    shown_size,
)
from optimizer.io.vrptw import read_bks, read_instance, read_solution
from tests.api_support import service_settings

runner = CliRunner()


def sparse(path: Path, size_bytes: int) -> Path:
    """A file of ``size_bytes`` zero bytes that takes no disk."""
    with open(path, "wb") as fh:
        fh.truncate(size_bytes)
    return path


def endless(path: Path) -> Path:
    """A file that says it is empty and never ends: a link to /dev/zero."""
    path.symlink_to("/dev/zero")
    return path


def test_the_helper_reads_up_to_the_limit_and_refuses_a_byte_more(tmp_path):
    exact = tmp_path / "exact"
    exact.write_bytes(b"x" * 100)
    assert read_bytes_within(exact, 100) == b"x" * 100
    assert read_text_within(exact, 100) == "x" * 100
    with pytest.raises(FileTooLargeError) as caught:
        read_bytes_within(sparse(tmp_path / "big", 101), 100, "a test file")
    assert caught.value.size_bytes == 101 and caught.value.limit_bytes == 100
    message = str(caught.value)
    assert str(tmp_path / "big") in message and "100 bytes" in message and "a test file" in message


def test_the_helper_stops_reading_a_file_that_does_not_end(tmp_path):
    with pytest.raises(FileTooLargeError) as caught:
        read_bytes_within(endless(tmp_path / "zero"), 64 * 1024)
    assert caught.value.size_bytes is None
    assert "64 KiB" in str(caught.value)


def test_sizes_are_shown_for_people():
    assert shown_size(256 * 2**20) == "256 MiB"
    assert shown_size(4096) == "4 KiB"
    assert shown_size(12) == "12 bytes"


# -- lastmile check SCENARIO PLAN.json ------------------------------------------------


@pytest.fixture(scope="module")
def tiny_day(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny") / "day"
    write(generate(3, 1), folder)
    return folder


def test_check_refuses_a_plan_json_beyond_its_limit(tiny_day, tmp_path):
    plan = sparse(tmp_path / "plan.json", MAX_PLAN_JSON_BYTES + 1)
    result = runner.invoke(app, ["check", str(tiny_day), str(plan)])
    assert result.exit_code == 2, result.output
    assert str(plan) in result.output and shown_size(MAX_PLAN_JSON_BYTES) in result.output
    assert "Traceback" not in result.output


def test_check_refuses_a_plan_json_that_does_not_end(tiny_day, tmp_path, monkeypatch):
    import optimizer.io.plan_json as plan_reader

    monkeypatch.setattr(plan_reader, "MAX_PLAN_JSON_BYTES", 1024 * 1024)
    plan = endless(tmp_path / "plan.json")
    result = runner.invoke(app, ["check", str(tiny_day), str(plan)])
    assert result.exit_code == 2, result.output
    assert "beyond the limit of 1 MiB" in result.output


# -- candidate sites, keys, secret, VRPTW -------------------------------------------


def test_candidate_sites_beyond_the_limit_are_refused_with_file_and_limit(tmp_path):
    path = sparse(tmp_path / "candidates.csv", MAX_CANDIDATES_BYTES + 1)
    with pytest.raises(CandidatesError) as caught:
        load_candidates(path)
    (problem,) = caught.value.problems
    assert problem.file == "candidates.csv"
    assert shown_size(MAX_CANDIDATES_BYTES) in problem.message
    assert "candidate file" in str(caught.value) and str(path) in str(caught.value)


def test_an_api_keys_file_beyond_the_limit_is_refused_with_file_and_limit(tmp_path):
    for keys in (
        sparse(tmp_path / "keys.yaml", MAX_KEYS_FILE_BYTES + 1),
        endless(tmp_path / "keys-zero.yaml"),
    ):
        settings = service_settings("sqlite://", tmp_path, api_keys_file=keys)
        with pytest.raises(KeyConfigError) as caught:
            configured_keys(settings)
        assert str(keys) in str(caught.value)
        assert shown_size(MAX_KEYS_FILE_BYTES) in str(caught.value)


def test_a_server_secret_file_beyond_its_limit_is_refused(tmp_path):
    path = sparse(tmp_path / "secret", secret.MAX_SECRET_FILE_BYTES + 1)
    os.chmod(path, 0o600)
    with pytest.raises(secret.SecretError, match="beyond the limit"):
        secret._read(path)


@pytest.mark.parametrize("read", [read_instance, read_solution, read_bks])
def test_vrptw_files_beyond_the_limit_are_refused_with_file_and_limit(tmp_path, read):
    path = sparse(tmp_path / "c101.txt", MAX_VRPTW_FILE_BYTES + 1)
    with pytest.raises(ValueError) as caught:
        read(path)
    assert str(path) in str(caught.value)
    assert shown_size(MAX_VRPTW_FILE_BYTES) in str(caught.value)


# -- the scenario folder, through the same helper --------------------------------------


def test_a_scenario_file_that_does_not_end_is_refused(tiny_day, tmp_path, monkeypatch):
    folder = tmp_path / "day"
    folder.mkdir()
    for file in tiny_day.iterdir():
        if file.name != "orders.csv":
            (folder / file.name).write_bytes(file.read_bytes())
    endless(folder / "orders.csv")
    monkeypatch.setattr(reader, "MAX_FILE_BYTES", 1024 * 1024)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(folder)
    (problem,) = [p for p in caught.value.problems if p.file == "orders.csv"]
    assert "beyond the planner's limit of 1 MiB" in problem.message
