# Two commands a new clone needs: `make demo` and `make test`. Both set up their own environment.
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
RUN := $(UV) run --frozen

.PHONY: setup demo test e2e soak soak-celery lint unit integration clean bench test-lowest test-highest wheel-check

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

# The tests are isolated per process (each pytest-xdist worker has its own Airflow home, database, DAGs
# folder and emulators on free ports) and spend much of their time waiting on emulated jobs, so they
# run in TEST_WORKERS processes.
TEST_WORKERS ?= 4

test: lint
	$(RUN) pytest -n $(TEST_WORKERS) -m "not e2e and not wheel"

# The oldest and the newest versions pyproject.toml allows, each resolved afresh into its own venv on
# the system Python (not from uv.lock), running the unit and integration tests (scripts/compat_env.sh).
test-lowest: | $(UV)
	UV=$(UV) scripts/compat_env.sh lowest -n $(TEST_WORKERS)

test-highest: | $(UV)
	UV=$(UV) scripts/compat_env.sh highest -n $(TEST_WORKERS)

# The wheel a user installs: uv build, the wheel alone into a fresh venv, `airflow providers list`,
# the example DAG through `airflow dags test` against the installed emulator (tests/wheel/).
wheel-check: setup
	UV=$(UV) $(RUN) pytest -m wheel tests/wheel

# Real Airflow deployments against the emulator, driven through the REST API and a headless
# Chromium: every e2e test runs on the LocalExecutor/SQLite deployment, then on the distributed one
# (CeleryExecutor, two workers, two triggerers, PostgreSQL, Redis). See tests/e2e/.
# CI soaks 50 task instances locally and 60 on Celery, and defers 60 tasks over two triggerers (sizes that
# keep .ci/run under 40 minutes; `make soak` and `make soak-celery` run the full ones).
e2e: setup
	E2E_SOAK_TASKS_LOCAL=$${E2E_SOAK_TASKS_LOCAL:-50} E2E_SOAK_TASKS_CELERY=$${E2E_SOAK_TASKS_CELERY:-60} \
	E2E_DEFERRED_TASKS=$${E2E_DEFERRED_TASKS:-60} $(RUN) pytest -m e2e --durations=15 tests/e2e

# The full soaks: 200 task instances on the local deployment (about 5 minutes on 2 cores) ...
soak: setup
	E2E_DEPLOYMENTS=local E2E_SOAK_TASKS=200 $(RUN) pytest -m e2e -s tests/e2e/test_e2e_soak.py

# ... and 1,000 on the distributed one, after 500 deferred tasks with a triggerer killed.
soak-celery: setup
	E2E_DEPLOYMENTS=celery E2E_SOAK_TASKS=1000 E2E_DEFERRED_TASKS=500 \
	$(RUN) pytest -m e2e -s tests/e2e/test_e2e_distributed.py tests/e2e/test_e2e_soak.py

clean:
	rm -rf .venv .venv-lowest .venv-highest $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
