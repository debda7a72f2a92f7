# live-anchor — two commands do everything on a fresh machine:
#   make demo   set up, ingest the sample catalog, serve the product on 127.0.0.1:8000 (offline)
#   make test   set up, then ruff + mypy + pytest
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
DEB_PACKAGES := espeak-ng ffmpeg sox chromium fonts-noto-cjk nginx libnginx-mod-rtmp
export ANCHOR_DATA_DIR ?= ./var

.PHONY: setup system-deps demo test lint typecheck pytest evalgate bench clean

setup: $(STAMP) system-deps

# Debian packages the product and its tests use (speech, audio, the browser for e2e tests).
system-deps:
	@missing=""; \
	for bin in espeak-ng ffmpeg sox chromium; do command -v $$bin >/dev/null 2>&1 || missing="yes"; done; \
	fc-list 2>/dev/null | grep -qi "noto sans cjk" || missing="yes"; \
	[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || missing="yes"; \
	if [ -n "$$missing" ]; then \
		echo ">> installing Debian packages: $(DEB_PACKAGES)"; \
		SUDO=""; [ "$$(id -u)" = "0" ] || SUDO="sudo"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES) >/dev/null; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned to the CPU wheel on local disk before anything can pull another build.
# constraints.txt pins every transitive version to the set the test suite last passed with.
$(STAMP): pyproject.toml constraints.txt $(VENV)/bin/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt "torch==2.13.0"
	$(PIP) install -q -c constraints.txt -e ".[dev,sentence-transformers]"
	touch $(STAMP)

demo: setup
	$(VENV)/bin/anchor demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

pytest: setup
	$(VENV)/bin/pytest

# The answer-quality gate: the bundled eval datasets through the production pipeline (real embedder),
# compared with the saved baseline; a regression beyond its stated tolerances fails the build.
evalgate: setup
	$(VENV)/bin/anchor eval run --gate evals/baselines/default.json --out var/evals/gate

test: setup lint typecheck evalgate pytest

bench: setup
	$(VENV)/bin/anchor bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
