# Tusk: the two commands a new user needs are `make up` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PKGS := libs/common services/versioning services/ingest services/scheduler clients/tusk
PKG_FILES := $(foreach p,$(PKGS),$(p)/pyproject.toml)
PYTEST_WORKERS ?= 2

.PHONY: up install test lint bench clean-data help

help:
	@echo "make up       start the embedded stack (NATS, Postgres, every service) and print its URL"
	@echo "make test     run the whole test suite"
	@echo "make bench    run the benchmarks against the reference tools"
	@echo "make lint     ruff and mypy"

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PY) not found)"; exit 1; }
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python $(PKG_FILES)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet $(foreach p,$(PKGS),-e "./$(p)[test]")
	touch $(STAMP)

install: $(STAMP)

up: install
	$(BIN)/tusk up

test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy libs/common/src

bench: install
	$(BIN)/python -m bench

clean-data:
	rm -rf .tusk
