# Two commands a new clone needs: `make demo` and `make test`. Both set up their own environment.
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
RUN := $(UV) run --frozen

.PHONY: setup demo test lint unit integration clean bench

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen
	touch $@

setup: .venv/.synced

demo: setup
	$(RUN) python scripts/demo.py

# Ours beside the Google provider's Cloud Batch operator and trigger, on the same emulator (< 15 min).
bench: setup
	$(RUN) python -m benchmarks.run_all

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

test: lint
	$(RUN) pytest

clean:
	rm -rf .venv $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
