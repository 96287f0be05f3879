# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both run `make setup` first (idempotent: seconds when there is nothing to do).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast bench clean-runs

setup:
	@bash tools/setup_envs.sh

demo: setup
	@bash tools/demo.sh

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The documented fast subset: no genuine-Lava and no slow tests (< 2 min on 2 cores).
test-fast: setup
	$(VENV)/bin/pytest -m "not slow and not lava" $(PYTEST_ARGS)

bench: setup
	@bash tools/bench.sh

clean-runs:
	rm -rf runs
