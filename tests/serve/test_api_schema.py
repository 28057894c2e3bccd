"""Schema-driven tests of the HTTP API (Schemathesis) against the real server on 127.0.0.1: every
request generated from the OpenAPI schema, valid or not, is answered without a server error, with
a documented status code, content type and body shape (errors are ``ErrorBody``).

One check is left out: ``positive_data_acceptance`` (a schema-valid request must be accepted).
The schema cannot say that a text must not be blank or that a single-text model takes no
``pairs``, so such requests are rightly refused with 422. With API keys, ``ignored_auth`` is left
out too: the schema offers two schemes as alternatives (``X-API-Key`` or a bearer token), and the
check spoils one while the run sends the other valid, which is rightly accepted; wrong and missing
keys are refused with 401 in ``test_serve_hardening.py::test_api_keys``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from serve_helpers import Server

pytestmark = pytest.mark.server

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


def run_schemathesis(port: int, *extra: str, exclude: str = "positive_data_acceptance") -> str:
    if not SCHEMATHESIS.exists():
        pytest.fail(f"schemathesis is not installed beside {sys.executable} (make test installs it)")
    done = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"http://127.0.0.1:{port}/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            exclude,
            "--max-examples",
            "200",
            "--seed",
            "7",
            "--no-color",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = done.stdout[-3000:]
    assert done.returncode == 0, summary
    generated = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert generated and int(generated.group(1)) >= 100 and generated.group(1) == generated.group(2), summary
    print(f"schemathesis: {generated.group(0)}")
    return summary


def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(tiny_model, tmp_path):
    server = Server(tiny_model, tmp_path, "--max-texts", "16", "--max-body-bytes", "20000")
    try:
        run_schemathesis(server.port)
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()


def test_the_same_with_api_keys(tiny_model, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("schema-key-0123456789\n")
    server = Server(tiny_model, tmp_path, "--api-key-file", str(keys))
    try:
        run_schemathesis(
            server.port,
            "--header",
            "Authorization: Bearer schema-key-0123456789",
            exclude="positive_data_acceptance,ignored_auth",
        )
    finally:
        server.stop()
