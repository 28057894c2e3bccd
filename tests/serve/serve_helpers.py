"""What the serving tests share: the texts they send and a real server on 127.0.0.1 in a subprocess."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

TEXTS = [
    "very good book",
    "bad terrible book",
    "the book",
    "das buch ist gut",
    "le livre est mauvais",
    "great great love",
    "boring not good",
    "très bon livre",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, model: Path, home: Path, *extra: str):
        self.port = free_port()
        self.log = home / f"serve-{self.port}.log"
        env = {**os.environ, "MGL_HOME": str(home)}
        with open(self.log, "w") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mgl", "serve", "--model", str(model), "--port", str(self.port), *extra],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()}")
            try:
                if self.get("/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"server did not start: {self.log.read_text()}")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheader("content-type", ""), data
        finally:
            conn.close()

    def get(self, path: str):
        status, _, data = self.request("GET", path)
        return status, data

    def predict(self, payload) -> tuple[int, dict]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        status, ctype, data = self.request("POST", "/predict", body, {"content-type": "application/json"})
        assert ctype.startswith("application/json"), (status, ctype, data[:200])
        return status, json.loads(data)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)
