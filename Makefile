# Set-up and entry points. `make test` and `make run` create or reuse .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Real data for tests, benchmarks and the main job: MGL_DATA, else ../shared/data where it exists.
MGL_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export MGL_DATA
RUN_OUT ?= runs/main
# pytest caches its rewritten test modules as bytecode: where PYTHONDONTWRITEBYTECODE is set (as on
# these machines) every run would rewrite them again (~2.5 s per test process)
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest
# The closest this machine comes to the AVX2-only CPU kind: PyTorch's and oneDNN's kernels capped at
# AVX2, and encoder.precision=auto choosing fp32 as it does where bfloat16 is not native
AVX2_KIND := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MGL_AUTO_PRECISION=fp32

.PHONY: venv test check check-avx2 lint docs run bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU wheel of torch first: an unpinned resolve would pull a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,dev]'
	touch $@

venv: $(VENV)/.installed

# pytest exits 5 when it collects no test: that is not a failure of the suite.
test: venv
	$(PYTEST) -q --durations=10 tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

# The checks a contributor runs before every commit: ruff and the fast tier of tests
# (`unit` and not `slow`: no real encoder, process, socket, Ray or browser; tests/tiers.py), on 2 workers.
# (mypy, 30 s on a cold cache, runs in `make lint`, CI and pre-commit.)
check: venv
	$(VENV)/bin/ruff check src tests benchmarks docs/_ext
	$(VENV)/bin/ruff format --check src tests benchmarks docs/_ext
	$(PYTEST) -q -m check -n 2 tests

# The fast tier as the AVX2-only kind runs it (CI runs it after the whole suite).
check-avx2: venv
	$(AVX2_KIND) $(PYTEST) -q -m check -n 2 tests

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks docs/_ext
	$(VENV)/bin/ruff format --check src tests benchmarks docs/_ext
	$(VENV)/bin/mypy

# The documentation site (Sphinx + MyST) into docs/_build/html; any warning fails the build.
docs: venv
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

# The main job: EN+FR+DE -> JA on Webis-CLS-10 books (the pair the paper tuned on), the target at
# 10% of its training labels, the embedded multilingual-e5-small encoder frozen. Data from
# MGL_DATA, or else downloaded from the publisher into $MGL_HOME/data.
run: venv
	$(VENV)/bin/mgl encoder prepare
	@set -e; \
	if [ -n "$(MGL_DATA)" ]; then root="$(MGL_DATA)/cls-acl10-unprocessed"; \
	else root=$$($(VENV)/bin/mgl data download webis-cls-10 | tail -n 1); fi; \
	$(VENV)/bin/mgl data stats webis-cls-10 --root "$$root" --languages en,fr,de,ja; \
	$(VENV)/bin/mgl run --preset amazon --root "$$root" --domain books --sources en,fr,de --target ja \
		--target-fraction 0.1 --seed 0 --out $(RUN_OUT)

clean:
	rm -rf $(VENV) build dist src/*.egg-info
