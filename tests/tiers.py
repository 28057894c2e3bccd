"""Test tiers: every test says what it needs, and a ``unit`` test is held to it.

Tiers (markers, declared in ``pyproject.toml``):

- ``unit``: no real encoder (tiny random models built from a config), no subprocess or worker
  process, no Ray, no network socket, no browser, no file of the real data under ``MGL_DATA``.
  ``make check`` runs these.
- ``encoder``: loads the real multilingual-e5-small (the embedded default).
- ``process``: starts a subprocess or a pool of worker processes (the CLI in its own process,
  spawned executors, accelerate).
- ``ray``: starts or joins a Ray cluster.
- ``server``: serves over a real socket on 127.0.0.1.
- ``browser``: drives a real headless browser.
- ``integration``: runs on the real data under ``MGL_DATA`` (skipped where it is unset).

A test carries ``unit`` or at least one of the others (a module's ``pytestmark`` usually says it
once for every test in the file, a heavier marker on one test overrides it); a test with neither
fails at collection. The fast tier, ``make check`` (``-m check``), is every test marked ``unit``
with no heavier marker and not ``slow``; while one of those runs, starting a process, opening an
internet socket, joining Ray, loading the real encoder or reading the real data sets raises
:class:`TierViolation`, so the fast tier cannot slow down unnoticed.

``MGL_TEST_PROFILE=FILE`` instead records, for every test, which of those it did (one JSON line
per test), without failing: how the tiers were first assigned.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

HEAVY = ("encoder", "process", "ray", "server", "browser", "integration")
TIERS = ("unit", *HEAVY)


class TierViolation(AssertionError):
    """A ``unit`` test did something only a heavier tier may do."""


class _State:
    """The test running now (one at a time per process) and what it used: process-wide, so a
    server or pool started on another thread is seen too."""

    watch: dict | None = None


_state = _State()


def _touch(kind: str, what: str) -> None:
    watch = _state.watch
    if watch is None:
        return
    watch["used"].setdefault(kind, what)
    if watch["enforce"]:
        raise TierViolation(
            f"a unit test must not {what} (mark the test {kind!r} instead of 'unit'; see tests/tiers.py)"
        )


def _install() -> None:
    """Wrap the few entry points to heavy resources (once per session)."""
    original_popen_init = subprocess.Popen.__init__

    def popen_init(self, *args, **kwargs):
        _touch("process", "start a subprocess")
        original_popen_init(self, *args, **kwargs)

    subprocess.Popen.__init__ = popen_init  # type: ignore[method-assign]

    import multiprocessing.process

    original_start = multiprocessing.process.BaseProcess.start

    def start(self):
        _touch("process", "start a worker process")
        return original_start(self)

    multiprocessing.process.BaseProcess.start = start  # type: ignore[method-assign]

    original_connect, original_bind = socket.socket.connect, socket.socket.bind

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _touch("server", "open a network socket")
        return original_connect(self, address)

    def bind(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _touch("server", "open a network socket")
        return original_bind(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.bind = bind  # type: ignore[method-assign]

    from mgl.encoders import loading
    from mgl.encoders.embedded_e5 import is_embedded_name

    original_locate = loading.locate

    def locate(model: str):
        if is_embedded_name(model):
            _touch("encoder", "load the real multilingual-e5-small")
        return original_locate(model)

    loading.locate = locate

    # the real data sets under MGL_DATA: every file reader of mgl (the one record reader; Webis-CLS-10's XML)
    from mgl.data import records, webis

    def under_real_data(path) -> bool:
        data = os.environ.get("MGL_DATA")
        if not data or not isinstance(path, (str, os.PathLike)):
            return False
        try:
            return os.path.realpath(path).startswith(os.path.realpath(data) + os.sep)
        except (TypeError, ValueError):
            return False

    original_reader_init = records.RecordReader.__init__

    def reader_init(self, path, *args, **kwargs):
        if under_real_data(path):
            _touch("integration", "read the real data under MGL_DATA")
        original_reader_init(self, path, *args, **kwargs)

    records.RecordReader.__init__ = reader_init  # type: ignore[method-assign]
    original_review_file = webis.read_review_file

    def read_review_file(path, *args, **kwargs):
        if under_real_data(path):
            _touch("integration", "read the real data under MGL_DATA")
        return original_review_file(path, *args, **kwargs)

    webis.read_review_file = read_review_file


_RUN = {"fast_tier": False}


def property_examples(n: int) -> int:
    """How many examples a Hypothesis property test draws: ``n`` in the whole suite, a fifth (at
    least 30) when only the fast tier runs (``-m check``, ``make check``), so the fast tier stays
    quick on every CPU kind while ``make test`` (and CI) keeps the full search."""
    return max(30, n // 5) if _RUN["fast_tier"] else n


def _fast(item: pytest.Item) -> bool:
    """In ``make check``: marked ``unit``, nothing heavier, and not ``slow``."""
    return (
        item.get_closest_marker("unit") is not None
        and item.get_closest_marker("slow") is None
        and not any(item.get_closest_marker(t) for t in HEAVY)
    )


def pytest_configure(config: pytest.Config) -> None:
    # Process-wide caches that libraries fill by starting a subprocess the first time: matplotlib's
    # font cache on a machine that never ran it (a fresh CI runner: ``fc-list``) and the platform
    # string every result record carries (``uname -p``). Filled here, once per worker, before any
    # test is held to its tier, so which test comes first does not decide which one fails.
    import platform

    import matplotlib.font_manager  # noqa: F401

    platform.platform()

    _RUN["fast_tier"] = (config.getoption("markexpr", "") or "").strip() == "check"
    _install()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem) -> None:
    """Teardown is not held to the tier: after the session's last test, pytest finalises the session
    fixtures (stopping a Ray cluster starts ``ray stop``) inside that test's teardown."""
    if _state.watch is not None:
        _state.watch["enforce"] = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [item.nodeid for item in items if not any(item.get_closest_marker(t) for t in TIERS)]
    for item in items:
        if _fast(item):
            item.add_marker("check")
    if unmarked and not os.environ.get("MGL_TEST_PROFILE"):
        raise pytest.UsageError(
            "tests without a tier marker (unit, or what they need: "
            + ", ".join(HEAVY)
            + "; see tests/tiers.py):\n  "
            + "\n  ".join(unmarked[:20])
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    profile = os.environ.get("MGL_TEST_PROFILE")
    enforce = _fast(item) and not profile
    _state.watch = {"used": {}, "enforce": enforce} if (enforce or profile) else None
    try:
        return (yield)
    finally:
        watch, _state.watch = _state.watch, None
        if profile and watch is not None:
            fixtures = sorted(getattr(item, "fixturenames", ()))
            with open(profile, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"test": item.nodeid, "used": watch["used"], "fixtures": fixtures}) + "\n")
