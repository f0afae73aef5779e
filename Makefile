# Two commands a new clone needs: `make demo` and `make test`. Both set up their own environment.
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
RUN := $(UV) run --frozen

.PHONY: setup demo test e2e soak lint unit integration clean bench test-lowest test-highest wheel-check

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
	$(RUN) pytest -m "not e2e and not wheel"

# The oldest and the newest versions pyproject.toml allows, each resolved afresh into its own venv on
# the system Python (not from uv.lock), running the unit and integration tests (scripts/compat_env.sh).
test-lowest: | $(UV)
	UV=$(UV) scripts/compat_env.sh lowest

test-highest: | $(UV)
	UV=$(UV) scripts/compat_env.sh highest

# The wheel a user installs: uv build, plain pip install into a fresh venv, `airflow providers list`,
# the example DAG through `airflow dags test` against the installed emulator (tests/wheel/).
wheel-check: setup
	UV=$(UV) $(RUN) pytest -m wheel tests/wheel

# A real Airflow deployment (api-server, scheduler, dag-processor, triggerer) against the emulator,
# driven through the REST API and a headless Chromium; a few minutes. See tests/e2e/.
# CI soaks 50 task instances; `make soak` runs the full 200 (about 5 minutes on 2 cores).
e2e: setup
	E2E_SOAK_TASKS=$${E2E_SOAK_TASKS:-50} $(RUN) pytest -m e2e tests/e2e

soak: setup
	E2E_SOAK_TASKS=200 $(RUN) pytest -m e2e tests/e2e/test_e2e_soak.py

clean:
	rm -rf .venv .venv-lowest .venv-highest $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
