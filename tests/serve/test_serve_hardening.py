"""``mgl serve`` against a hostile but fair client, over a real socket on 127.0.0.1: one error shape,
bodies over the limit however they arrive, hostile requests that cannot fail others, HEAD, docs
that work offline, API keys, the Host check, a port in use, and one answer per text whatever
the batch in the default (bf16) precision."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from serve_helpers import TEXTS, Server

pytestmark = [pytest.mark.server, pytest.mark.encoder]


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    srv = Server(
        tiny_model,
        tmp_path_factory.mktemp("hardening-home"),
        "--max-texts",
        "16",
        "--max-body-bytes",
        "20000",
        "--max-wait-ms",
        "20",
        "--max-batch",
        "64",
    )
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


@pytest.fixture(scope="module")
def guarded(tiny_model, tmp_path_factory):
    home = tmp_path_factory.mktemp("guarded-home")
    keys = home / "keys.txt"
    keys.write_text("# one key per line\nkey-0123456789abcdef\n\n", encoding="utf-8")
    srv = Server(tiny_model, home, "--api-key-file", str(keys), "--max-body-bytes", "20000", "--max-texts", "16")
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


def test_every_error_has_one_shape(server):
    for method, path, body in [
        ("GET", "/nope", None),
        ("DELETE", "/predict", None),
        ("PUT", "/health", None),
        ("POST", "/predict", b"[1, 2]"),
        ("POST", "/predict", b'{"texts": [1]}'),
    ]:
        status, ctype, data = server.request(method, path, body, {"content-type": "application/json"})
        assert 400 <= status < 500 and ctype.startswith("application/json"), (method, path, status, ctype)
        answer = json.loads(data)
        assert set(answer) <= {"error", "field"} and answer["error"], (method, path, answer)
    spec = json.loads(server.get("/openapi.json")[1])
    responses = spec["paths"]["/predict"]["post"]["responses"]
    for code in ("401", "413", "422"):
        ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorBody")
    assert set(spec["components"]["schemas"]["ErrorBody"]["properties"]) == {"error", "field"}


def test_an_oversized_body_is_413_also_when_chunked(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.putrequest("POST", "/predict")
        conn.putheader("content-type", "application/json")
        conn.putheader("transfer-encoding", "chunked")
        conn.endheaders()
        chunk = json.dumps({"texts": ["x" * 30000]}).encode()
        for part in (chunk[:10000], chunk[10000:]):
            conn.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 413 and "bytes" in body["error"]


def test_head_works_where_get_does(server):
    for path in (
        "/",
        "/health",
        "/model",
        "/docs",
        "/redoc",
        "/openapi.json",
        "/static-offline-docs/redoc.standalone.js",
    ):
        status, _, data = server.request("HEAD", path)
        assert status == 200 and data == b"", path
        assert server.get(path)[0] == 200, path
    assert server.request("HEAD", "/predict")[0] == 405  # where GET is not answered, neither is HEAD


def test_every_operation_id_is_unique(server):
    schema = json.loads(server.get("/openapi.json")[1])
    ids = [
        op["operationId"]
        for item in schema["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ids) == len(set(ids)) and ids, ids


def test_invalid_json_names_the_body_not_a_character_offset(server):
    status, _, data = server.request("POST", "/predict", b'{"texts": ["a", }', {"content-type": "application/json"})
    body = json.loads(data)
    assert status == 422 and body["field"] == "body", body


def test_the_docs_load_their_assets_from_the_server(server):
    status, page = server.get("/docs")
    html = page.decode()
    assert status == 200 and "cdn" not in html.lower() and "https://" not in html
    scripts = [part.split('"')[0] for part in html.split('src="')[1:]] + [
        part.split('"')[0] for part in html.split('href="')[1:]
    ]
    local = [s for s in scripts if s.startswith("/")]
    assert any(s.endswith("swagger-ui-bundle.js") for s in local)
    for asset in local:
        assert server.get(asset)[0] == 200, asset
    status, page = server.get("/redoc")
    assert status == 200 and "https://" not in page.decode().split("<body>")[-1]
    assert server.get("/static-offline-docs/redoc.standalone.js")[0] == 200


def test_lone_surrogates_are_422_and_never_fail_other_clients(server):
    """Two clients send every malformed body of the service tests (lone surrogates among them) while
    four others send well-formed requests: every well-formed request gets 200 and its answer alone."""
    bad_bodies = [
        json.dumps(b).encode()
        for b in (
            {"texts": ["bad \ud800 text"]},
            {"texts": ["ok", "\udfff"]},
            {"texts": ["ok"], "pairs": ["x"]},
            {"texts": [3]},
            {"texts": []},
            {"texts": ["  "]},
            {"texts": "x"},
            {"texts": ["ok"], "explain": "yes"},
            {"texts": ["ok"] * 17},
            {"texts": ["x" * 30000]},
        )
    ] + [b"{not json", b"", b"\xff\xfe", b"[]"]
    alone = {t: server.predict({"texts": [t]})[1]["predictions"][0]["probabilities"] for t in TEXTS}
    failures: list = []
    bad_statuses: list[int] = []

    def good(i: int) -> None:
        for k in range(12):
            text = TEXTS[(i + k) % len(TEXTS)]
            status, body = server.predict({"texts": [text, TEXTS[k % len(TEXTS)]]})
            if status != 200 or body["predictions"][0]["probabilities"] != pytest.approx(alone[text], abs=1e-6):
                failures.append((status, body))

    def bad(i: int) -> None:
        for _k in range(3):
            for payload in bad_bodies:
                status, _, data = server.request("POST", "/predict", payload, {"content-type": "application/json"})
                bad_statuses.append(status)
                assert set(json.loads(data)) <= {"error", "field"}

    threads = [threading.Thread(target=good, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=bad, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:2]
    assert bad_statuses and all(s in (413, 422) for s in bad_statuses), sorted(set(bad_statuses))
    status, body = server.predict({"texts": ["ok", "bad \ud800 text"]})
    assert status == 422 and body["field"] == "texts[1]" and "lone surrogate" in body["error"]


def test_api_keys(guarded):
    key = "key-0123456789abcdef"
    assert guarded.get("/health")[0] == 200  # open
    assert guarded.get("/")[0] == 200  # the page (static, no model data)
    for headers in ({}, {"authorization": "Bearer wrong-key-0123456789"}, {"x-api-key": ""}):
        status, _, data = guarded.request("GET", "/model", None, headers)
        assert status == 401 and "API key" in json.loads(data)["error"]
        status, _, _ = guarded.request(
            "POST", "/predict", b'{"texts": ["ok"]}', {"content-type": "application/json", **headers}
        )
        assert status == 401
    for headers in ({"authorization": f"Bearer {key}"}, {"x-api-key": key}):
        assert guarded.request("GET", "/model", None, headers)[0] == 200
        status, _, data = guarded.request(
            "POST", "/predict", b'{"texts": ["ok"]}', {"content-type": "application/json", **headers}
        )
        assert status == 200 and json.loads(data)["predictions"][0]["label"]


def _samples(text: str, name: str) -> dict[tuple, float]:
    """The samples of one Prometheus metric family in an exposition: {(labels...): value}."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[(key,)] = float(value)
    return out


def test_metrics_count_requests_batches_and_the_model_load(server):
    """GET /metrics after a few requests: Prometheus' text format, request counts by route and
    status, latency histograms, batch sizes and the model's load time."""
    for _ in range(3):
        assert server.predict({"texts": TEXTS[:2]})[0] == 200
    assert server.request("GET", "/nope")[0] == 404
    status, ctype, data = server.request("GET", "/metrics")
    assert status == 200 and ctype.startswith("text/plain"), ctype
    text = data.decode()
    requests = _samples(text, "http_requests_total")
    assert any('handler="/predict"' in k[0] and 'status="2xx"' in k[0] and v >= 3 for k, v in requests.items()), text
    assert any('status="4xx"' in k[0] for k in requests), requests
    assert any('handler="/predict"' in k[0] for k in _samples(text, "http_request_duration_seconds_count"))
    assert sum(_samples(text, "mgl_batch_texts_count").values()) >= 3
    assert sum(_samples(text, "mgl_texts_total").values()) >= 6
    assert next(iter(_samples(text, "mgl_model_load_seconds").values())) > 0
    spec = json.loads(server.get("/openapi.json")[1])
    assert "/metrics" not in spec["paths"] and "securitySchemes" not in spec.get("components", {})


def test_the_openapi_document_names_the_key_schemes_and_metrics_need_a_key(guarded):
    spec = json.loads(guarded.request("GET", "/openapi.json", None, {})[2])
    schemes = spec["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"apiKey", "http"}
    assert any(s.get("name") == "X-API-Key" and s.get("in") == "header" for s in schemes.values())
    assert any(s.get("scheme", "").lower() == "bearer" for s in schemes.values())
    for path, method in (("/predict", "post"), ("/model", "get")):
        named = {name for requirement in spec["paths"][path][method]["security"] for name in requirement}
        assert named == set(schemes), (path, named)
    assert guarded.request("GET", "/metrics", None, {})[0] == 401
    status, _, data = guarded.request("GET", "/metrics", None, {"authorization": "Bearer key-0123456789abcdef"})
    assert status == 200 and b"http_requests_total" in data


def test_only_the_bind_address_names_are_served(server):
    for host in ("127.0.0.1", f"127.0.0.1:{server.port}", "localhost", f"localhost:{server.port}", "[::1]:80"):
        assert server.request("GET", "/health", None, {"host": host})[0] == 200, host
    for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1.evil.example"):
        status, _, data = server.request("GET", "/health", None, {"host": host})
        assert status == 400 and json.loads(data)["field"] == "headers.host", host


def test_a_request_without_a_host_or_with_an_empty_one_gets_the_json_error_shape(server):
    """``curl -H 'Host:'`` sends no Host header: uvicorn refuses the request before the app sees it,
    and mgl's protocol answers that refusal in the service's JSON shape; an empty Host reaches the
    Host check (400, field headers.host)."""
    for raw, field in [
        (b"GET /health HTTP/1.1\r\n\r\n", "request"),
        (b"GET /health HTTP/1.1\r\nHost:\r\n\r\n", "headers.host"),
        (b"GET /health HTTP/1.1\r\nHost: \r\n\r\n", "headers.host"),
    ]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
            conn.sendall(raw)
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400") and b"content-type: application/json" in head.lower(), answer
        error = json.loads(body)
        assert set(error) == {"error", "field"} and error["field"] == field and error["error"], error


def test_a_port_in_use_exits_2_before_loading(tiny_model, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mgl", "serve", "--model", str(tiny_model), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr[-1500:]
    assert f"127.0.0.1:{port}" in done.stderr and "port" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def e5_bf16(e5_passage_model, tmp_path_factory):
    """The real encoder (a small model saved with it, tests/conftest.py) served with requests embedded in bf16."""
    import os

    import torch

    from mgl.encoders.text_encoder import native_bf16

    if not native_bf16(torch.device("cpu")):
        pytest.skip("this CPU has no native bfloat16")
    home = Path(os.environ.get("MGL_HOME") or Path.home() / ".cache" / "mgl")
    model = tmp_path_factory.mktemp("e5") / "model"
    shutil.copytree(e5_passage_model[0], model)
    srv = Server(model, home, "--precision", "bf16", "--max-wait-ms", "20", "--max-batch", "64", "--max-texts", "64")
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


def test_one_answer_per_text_in_bf16_alone_batched_duplicated_and_under_load(e5_bf16):
    reviews = [
        "この本は本当に素晴らしかった。最後まで一気に読んでしまいました。",
        "最悪の本でした。時間の無駄です。",
        "Ein wunderbares Buch, das ich jedem empfehlen kann, auch wenn der Anfang etwas langsam ist. " * 3,
        "Ce livre est ennuyeux.",
        "Great book!",
        "Terrible. " * 40,
        "Un libro excelente, lo recomiendo.",
        "本" * 200,
    ]
    alone = {t: e5_bf16.predict({"texts": [t]})[1]["predictions"][0]["probabilities"] for t in reviews}
    batched = e5_bf16.predict({"texts": reviews})[1]["predictions"]
    duplicated = e5_bf16.predict({"texts": [reviews[2]] * 5 + reviews[:2]})[1]["predictions"]
    worst = 0.0

    def gap(got: dict, text: str) -> float:
        return max(abs(got[k] - alone[text][k]) for k in got)

    worst = max(worst, *(gap(p["probabilities"], t) for p, t in zip(batched, reviews)))
    worst = max(worst, *(gap(p["probabilities"], t) for p, t in zip(duplicated, [reviews[2]] * 5 + reviews[:2])))
    loaded: list[float] = []

    def client(i: int) -> None:
        for k in range(4):
            texts = [reviews[(i + k + j) % len(reviews)] for j in range(1 + (i + k) % 5)]
            status, body = e5_bf16.predict({"texts": texts})
            assert status == 200
            loaded.extend(gap(p["probabilities"], t) for p, t in zip(body["predictions"], texts))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loaded) > 40
    assert max(worst, *loaded) <= 1e-6, max(worst, *loaded)
