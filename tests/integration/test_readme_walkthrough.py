"""README "Test your DAGs without Google Cloud", run as written by a user: a fresh project outside
the repository, the wheel installed into a clean virtual environment, the README's files verbatim.

Then the section's shell recipe runs in that project, also verbatim.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from built_wheel import ROOT, venv_with

pytestmark = pytest.mark.integration

SECTION = "## Test your DAGs without Google Cloud"
#: A fenced block whose first line is a comment naming a file of the project: "# dags/daily_spend.py".
FILE_BLOCK = re.compile(r"^```(?:python|toml)\n# (?P<path>[\w./-]+)\n(?P<body>.*?)^```", re.M | re.S)
SHELL_BLOCK = re.compile(r"^```bash\n(?P<body>.*?)^```", re.M | re.S)
DEFERRABLE_TEST = "tests/test_daily_spend.py::test_daily_spend_loads_the_day"


def readme_section() -> str:
    """Return the section's text, up to the next second-level heading."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end >= 0 else None]


def project_files(section: str) -> dict[str, str]:
    """
    Return the files the section shows, by path: each block's text from its first line on.

    :param section: the README section.
    """
    return {m["path"]: f"# {m['path']}\n{m['body']}" for m in FILE_BLOCK.finditer(section)}


def user_environment(venv_python: Path, home: Path) -> dict[str, str]:
    """
    A user's shell: the venv first on ``PATH``, a fresh ``HOME``, nothing of this test session.

    :param venv_python: the venv's python.
    :param home: an empty directory for ``HOME``.
    """
    path = f"{venv_python.parent}:/usr/local/bin:/usr/bin:/bin"
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8"}


def test_section_shows_the_files_a_project_needs() -> None:
    assert set(project_files(readme_section())) == {
        "conftest.py",
        "pyproject.toml",
        "dags/daily_spend.py",
        "tests/test_daily_spend.py",
    }


def test_a_fresh_project_passes_with_the_readme_as_written(
    project_wheel: Path, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    section = readme_section()
    project = tmp_path / "my-project"
    for path, text in project_files(section).items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text)
    python = venv_with(tmp_path / "venv", project_wheel, "pytest")
    home = tmp_path / "home"
    home.mkdir()
    environment = user_environment(python, home)

    run = subprocess.run(
        [str(python), "-m", "pytest", "-q", "--durations=0", "--durations-min=0"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "3 passed" in output, output
    # How long the deferrable example took (its call, which holds the whole DAG run), for the record
    # only: a timing is never asserted here (see the report in the README section).
    durations = dict(re.findall(r"^([\d.]+)s call\s+(\S+)$", output, re.M))
    seconds = {test: float(value) for value, test in durations.items()}
    record_property("deferrable_example_seconds", seconds.get(DEFERRABLE_TEST))
    print(f"user project, seconds per test call: {seconds}")
    assert DEFERRABLE_TEST in seconds, output
    # The session cleaned up: no Airflow home was left in the user's HOME or in the project.
    assert not (home / "airflow").exists()
    assert sorted(p.name for p in project.iterdir()) == [
        ".pytest_cache",
        "__pycache__",
        "conftest.py",
        "dags",
        "pyproject.toml",
        "tests",
    ]

    (recipe,) = [m["body"] for m in SHELL_BLOCK.finditer(section)]
    shell = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", recipe],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert shell.returncode == 0, shell.stdout + shell.stderr
    print(shell.stdout[-3000:], shell.stderr[-3000:])
    assert not (project / "emulator.env").exists()
