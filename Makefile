# Set-up and entry points. `make test` and `make run` create or reuse .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Real data for tests, benchmarks and the main job: MGL_DATA, else ../shared/data where it exists.
MGL_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export MGL_DATA
RUN_OUT ?= runs/main

.PHONY: venv test run bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU wheel of torch first: an unpinned resolve would pull a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# pytest exits 5 when it collects no test: that is not a failure of the suite.
test: venv
	$(PY) -m pytest -q tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

run: venv
	$(VENV)/bin/mgl encoder prepare
	@if [ -z "$(MGL_DATA)" ]; then echo "MGL_DATA is unset: set it to a folder holding cls-acl10-unprocessed/ (or run 'mgl data download webis-cls-10 --dest DIR')"; exit 2; fi
	$(VENV)/bin/mgl data stats webis-cls-10 --root $(MGL_DATA)/cls-acl10-unprocessed

clean:
	rm -rf $(VENV) build dist src/*.egg-info
