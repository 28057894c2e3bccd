"""``mgl serve`` over a real socket on 127.0.0.1: predictions equal the Python API's, concurrent
requests are micro-batched without changing any answer, bad requests get a 4xx JSON message
(never a 500), request texts stay out of the embedding cache, SIGTERM stops it gracefully."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import pytest
from serve_helpers import TEXTS, Server

pytestmark = [pytest.mark.server, pytest.mark.process]


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    home = tmp_path_factory.mktemp("serve-home")
    srv = Server(
        tiny_model, home, "--max-texts", "16", "--max-body-bytes", "20000", "--max-wait-ms", "150", "--max-batch", "64"
    )
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


def test_health_model_docs(server, tiny_model):
    status, data = server.get("/health")
    assert status == 200 and json.loads(data)["status"] == "ok"
    status, data = server.get("/model")
    info = json.loads(data)
    meta = json.loads((tiny_model / "mgl_model.json").read_text())
    assert info["labels"] == meta["labels"] and info["sources"] == ["en", "de"] and info["target"] == "fr"
    # the identity, without the machine's path of the local encoder (only its folder name)
    ref, rest = meta["encoder"]["identity"].split("|", 1)
    assert info["encoder"]["identity"] == f"{Path(ref).name}|{rest}"
    assert "/tmp" not in data.decode() and str(tiny_model.parent) not in data.decode()
    assert info["config"]["mgl"] == meta["config"]["mgl"] and "accuracy" in info["metrics"]
    assert server.get("/docs")[0] == 200
    spec = json.loads(server.get("/openapi.json")[1])
    assert "/predict" in spec["paths"] and "/model" in spec["paths"]


def test_predictions_equal_the_python_api(server, tiny_model):
    from mgl.model.classifier import MGLClassifier

    clf = MGLClassifier.from_pretrained(tiny_model)
    status, body = server.predict({"texts": TEXTS[:3], "explain": True})
    assert status == 200
    expected = clf.explain(TEXTS[:3])
    for got, want in zip(body["predictions"], expected):
        assert got["label"] == want.label
        assert got["probabilities"] == pytest.approx(want.probabilities, abs=2e-6)
        assert got["explanation"]["graph"]["self_weight"] == pytest.approx(want.self_weight, abs=2e-6)
        assert got["explanation"]["graph"]["graph_active"] == want.graph_active
        assert [n["id"] for n in got["explanation"]["neighbours"]] == [n["id"] for n in want.neighbours]
    status, body = server.predict({"texts": TEXTS[:2]})
    assert status == 200 and all("explanation" not in p for p in body["predictions"])


def test_concurrent_requests_are_batched_and_answered_as_alone(server):
    alone = {t: server.predict({"texts": [t]})[1]["predictions"][0]["probabilities"] for t in TEXTS}
    before = json.loads(server.get("/health")[1])
    answers: dict[int, dict] = {}
    start = threading.Barrier(len(TEXTS))  # every client sends at once, however slowly its thread started

    def client(i: int) -> None:
        start.wait()
        answers[i] = server.predict({"texts": [TEXTS[i]]})[1]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(TEXTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = json.loads(server.get("/health")[1])
    assert after["texts"] - before["texts"] == len(TEXTS)
    assert after["batches"] - before["batches"] < len(TEXTS)  # several requests shared an encoder call
    for i, text in enumerate(TEXTS):
        got = answers[i]["predictions"][0]["probabilities"]
        assert got == pytest.approx(alone[text], abs=2e-6)


@pytest.mark.parametrize(
    "payload, status, needle",
    [
        ({"texts": "not a list"}, 422, "texts"),
        ({"texts": [3]}, 422, "valid string"),
        ({"texts": []}, 422, "at least 1"),
        ({"texts": ["  "]}, 422, "texts[0] is empty"),
        ({"texts": ["ok", "bad \ud800 text"]}, 422, "texts[1] is not valid Unicode"),
        ({"texts": ["ok"], "explain": "yes"}, 422, "explain"),
        ({"texts": ["ok"], "unknown": 1}, 422, "unknown"),
        ({"texts": ["ok"], "pairs": ["second"]}, 422, "single texts"),
        ({"texts": ["ok"] * 17}, 413, "at most 16"),
        ({"texts": ["x" * 30000]}, 413, "bytes"),
        (b"{not json", 422, "JSON"),
        (b"", 422, "invalid request"),
    ],
)
def test_bad_requests_get_a_json_4xx(server, payload, status, needle):
    got, body = server.predict(payload)
    assert got == status, body
    assert needle in json.dumps(body, ensure_ascii=False)
    assert "Traceback" not in json.dumps(body)
    assert set(body) <= {"error", "field"} and isinstance(body["error"], str)  # one error shape


def test_request_texts_stay_out_of_the_cache_and_sigterm_stops_gracefully(tiny_model, tmp_path):
    from mgl.encoders import EmbeddingCache

    srv = Server(tiny_model, tmp_path)
    try:
        assert srv.predict({"texts": ["a text for nobody's cache"]})[0] == 200
    finally:
        code = srv.stop()
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after its graceful shutdown
    log = srv.log.read_text()
    assert "stopped after" in log and "Traceback" not in log
    cache_dir = tmp_path / "embeddings"
    assert not cache_dir.exists() or len(EmbeddingCache(cache_dir)) == 0

    srv = Server(tiny_model, tmp_path, "--cache-requests")
    try:
        assert srv.predict({"texts": ["a text for the cache"]})[0] == 200
    finally:
        srv.stop()
    assert len(EmbeddingCache(cache_dir)) == 1


@pytest.mark.parametrize("fixture", ["tiny_ensemble", "tiny_logreg", "tiny_chars_ensemble"])
def test_an_ensemble_and_a_logistic_regression_are_served_with_explanations(request, fixture, tmp_path):
    """Every method is served: /model names it, /predict answers what the Python API answers, with
    the nearest labelled examples (and their texts) as the explanation; a model with a member that
    reads the texts (char n-grams) is given them."""
    from mgl.model.classifier import Classifier

    model = request.getfixturevalue(fixture)
    clf = Classifier.from_pretrained(model)
    server = Server(model, tmp_path)
    try:
        info = json.loads(server.get("/model")[1])
        assert info["method"] == clf.method and info["method"] in ("ensemble", "logreg-pooled")
        if fixture == "tiny_ensemble":
            assert info["members"] == ["mgl", "mix", "logreg-pooled", "logreg-chars"] and clf.reads_texts
        if fixture == "tiny_chars_ensemble":
            assert info["members"] == ["mgl", "logreg-chars"] and clf.reads_texts
        status, body = server.predict({"texts": TEXTS[:3], "explain": True})
        assert status == 200
        for got, want in zip(body["predictions"], clf.explain(TEXTS[:3])):
            assert got["label"] == want.label
            assert got["probabilities"] == pytest.approx(want.probabilities, abs=2e-6)
            e = got["explanation"]
            assert e["method"] == clf.method and len(e["neighbours"]) == 5
            assert all(n["text"] and n["language"] in ("en", "de", "fr") for n in e["neighbours"])
            assert ("graph" in e) == (clf.method == "ensemble")  # the ensemble's MGL member explains its graph
        status, body = server.predict({"texts": TEXTS[:3]})
        assert status == 200
        for got, want in zip(body["predictions"], clf.predict_proba(TEXTS[:3])):
            assert list(got["probabilities"].values()) == pytest.approx(list(want), abs=2e-6)
    finally:
        server.stop()
