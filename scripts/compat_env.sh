#!/usr/bin/env bash
# Build `.venv-lowest` or `.venv-highest` from pyproject.toml (never from uv.lock) on the system Python,
# then run the unit and integration tests in it (extra arguments go to pytest, such as `-n 4`).
#
#   lowest:  every direct dependency at the floor pyproject.toml declares (uv's lowest-direct
#            resolution), everything else as published when the Airflow floor was released
#            (--exclude-newer), the way Airflow's constraint files hold an install.
#   highest: the newest releases the package index serves today (pre-releases excluded).
#
# tests/unit/test_floors.py checks, inside the lowest environment, that what got installed is what
# pyproject.toml declares.
set -euo pipefail
cd "$(dirname "$0")/.."

# Airflow 3.1.8 was published on 2026-03-11; this is the end of that day (UTC).
LOWEST_EXCLUDE_NEWER=2026-03-12T00:00:00Z

kind=${1:?usage: scripts/compat_env.sh lowest|highest [pytest args...]}
shift
uv=${UV:-uv}
venv=.venv-$kind
case $kind in
    lowest) resolution=(--resolution lowest-direct --exclude-newer "$LOWEST_EXCLUDE_NEWER") ;;
    highest) resolution=(--resolution highest) ;;
    *) echo "unknown environment '$kind': use lowest or highest" >&2; exit 2 ;;
esac

python=$(command -v python3)
rm -rf "$venv"
"$uv" venv --quiet --no-python-downloads --python "$python" "$venv"
"$uv" pip compile --quiet --no-header --python "$venv/bin/python" "${resolution[@]}" \
    pyproject.toml --group test --output-file "$venv/requirements.txt"
"$uv" pip sync --quiet --python "$venv/bin/python" "$venv/requirements.txt"
"$uv" pip install --quiet --python "$venv/bin/python" --no-deps --editable .
echo "$kind environment ($venv/requirements.txt):"
grep -E '^(apache-airflow|apache-airflow-core|apache-airflow-task-sdk|apache-airflow-providers-google|google-cloud-batch|google-cloud-logging)==' \
    "$venv/requirements.txt" | sed 's/^/    /'

# The same tests as `make test` (all but e2e and the wheel check). The migrated database template in
# .pytest_cache is keyed by the installed Airflow, so the three environments never share one.
BATCHSTREAM_TEST_ENVIRONMENT=$kind "$venv/bin/python" -m pytest -m "not e2e and not wheel" --ignore=tests/e2e "$@"
