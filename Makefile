# Two commands on a fresh machine: `make run` and `make test`. Everything they need is
# installed from here; see README.md.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
MOCK_PORT ?= 9100
export MOCK_UPSTREAM_PORT := $(MOCK_PORT)

.PHONY: install run test test-backend lint system-packages bench clean

$(VENV)/.installed: pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]' $(foreach dir,$(PLUGIN_DIRS),-e $(dir))
	touch $@

install: $(VENV)/.installed

# Starts the mock upstream and the gateway with examples/router.yaml; Ctrl-C stops both.
run: install
	@$(PY) examples/mock_upstream.py --port $(MOCK_PORT) & mock=$$!; \
	trap 'kill $$mock 2>/dev/null' EXIT INT TERM; \
	$(VENV)/bin/gateway serve --config examples/router.yaml

system-packages:
	@bash .ci/system-packages

test: install system-packages
	$(PY) -m pytest --cov=gateway_core --cov-report=term:skip-covered $(PYTEST_ARGS)

# The original design's name for the same suite.
test-backend: test

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

include bench/bench.mk

clean:
	rm -rf $(VENV) .pytest_cache .coverage htmlcov
