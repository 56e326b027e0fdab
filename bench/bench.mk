# `make bench`: install what the benchmark needs, then run it (bench/README.md explains the
# figures and the BENCH_* knobs). Included by the top-level Makefile, which defines PYTHON, PY
# and the `install` target.

LITELLM_VERSION := 1.104.0
LITELLM_VENV := bench/.venv-litellm
LITELLM_MARK := $(LITELLM_VENV)/.installed-$(LITELLM_VERSION)
LITELLM_LOG := bench/.work/litellm-install.log

.PHONY: bench bench-tools bench-litellm

bench: install bench-tools bench-litellm
	$(PY) bench/run.py

# Debian's nginx and wrk (plus what the test suite needs, if it is missing too).
bench-tools:
	@WITH_BENCH_TOOLS=1 bash .ci/system-packages

# LiteLLM lives in its own venv so its pins never touch the gateway's. A failed install is
# reported and the benchmark still runs, with LiteLLM marked unavailable. Quick runs and
# BENCH_LITELLM=0 skip it.
bench-litellm:
	@want="$${BENCH_LITELLM:-}"; \
	if [ -z "$$want" ]; then if [ "$${BENCH_QUICK:-0}" = 1 ]; then want=0; else want=1; fi; fi; \
	if [ "$$want" = 0 ] || [ -f $(LITELLM_MARK) ]; then exit 0; fi; \
	mkdir -p bench/.work; \
	echo "installing litellm[proxy]==$(LITELLM_VERSION) into $(LITELLM_VENV) (a few minutes; log: $(LITELLM_LOG))"; \
	if { $(PYTHON) -m venv $(LITELLM_VENV) \
	     && $(LITELLM_VENV)/bin/python -m pip install --quiet --upgrade pip \
	     && $(LITELLM_VENV)/bin/python -m pip install --quiet 'litellm[proxy]==$(LITELLM_VERSION)'; \
	   } > $(LITELLM_LOG) 2>&1; then \
	  touch $(LITELLM_MARK); \
	else \
	  echo "LiteLLM could not be installed (see $(LITELLM_LOG)); the benchmark runs without it"; \
	fi
