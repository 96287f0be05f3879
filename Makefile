# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both run `make setup` first (idempotent: seconds when there is nothing to do).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test bench clean-runs

setup:
	@bash tools/setup_envs.sh

demo: setup
	@bash tools/demo.sh

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: setup
	@bash tools/bench.sh

clean-runs:
	rm -rf runs
