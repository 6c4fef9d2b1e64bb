# Tusk: the two commands a new user needs are `make up` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PKGS := libs/common services/versioning services/ingest services/worker services/scheduler services/lineage clients/tusk
PKG_FILES := $(foreach p,$(PKGS),$(p)/pyproject.toml)
PYTEST_WORKERS ?= 2

.PHONY: up install system-deps test lint bench compose-up compose-down clean-data help

help:
	@echo "make up       start the embedded stack (NATS, Postgres, every service) and print its URL"
	@echo "make test     run the whole test suite"
	@echo "make bench    run the benchmarks against the reference tools"
	@echo "make lint     ruff, and mypy on every package"

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PY) not found)"; exit 1; }
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python $(PKG_FILES)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet $(foreach p,$(PKGS),-e "./$(p)[test]")
	@# Editable installs leave our own modules uncompiled (pip compiles a wheel's); compile them once, so the
	@# CLI starts fast even where PYTHONDONTWRITEBYTECODE keeps imports from writing .pyc files.
	$(BIN)/python -m compileall -q $(foreach p,$(PKGS),$(p)/src) >/dev/null
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests use: docker-compose (compose validation, no engine needed), promtool
# (prometheus), bubblewrap (the worker's sandbox), rclone and s3cmd (clients of the S3 gateway tests).
# Installed once, only where missing and we are root.
SYSTEM_TOOLS := docker-compose:docker-compose promtool:prometheus bwrap:bubblewrap rclone:rclone s3cmd:s3cmd
system-deps:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing system tools:$$missing (install them with your package manager)"; fi; \
	fi

up: install
	$(BIN)/tusk up

test: install system-deps
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy -p tusk_common
	$(BIN)/mypy $(foreach p,$(filter-out libs/common,$(PKGS)),$(p)/src)

bench: install
	$(BIN)/python -m bench

compose-up:
	docker-compose up -d --build

compose-down:
	docker-compose down

clean-data:
	rm -rf .tusk
