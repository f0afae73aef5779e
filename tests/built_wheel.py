"""Build this project's wheel and install it into a fresh virtual environment, at the lock's versions.

One place for every test that needs the package as a user gets it (``uv build``, then ``uv venv`` and
``uv pip install`` with ``uv export --frozen`` as constraints: fast from uv's cache, same versions
as ``uv.lock``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def uv_executable() -> str | None:
    """Return the ``uv`` the Makefile would use (on ``PATH``, else ``.tools/bin/uv``), or ``None``."""
    local = ROOT / ".tools" / "bin" / "uv"
    return shutil.which("uv") or (str(local) if local.exists() else None)


def _uv(*args: str | Path, cwd: Path = ROOT) -> str:
    uv = uv_executable()
    if uv is None:
        raise RuntimeError("uv is not installed: run `make setup`")
    done = subprocess.run([uv, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"uv {' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def build_wheel(out_dir: Path) -> Path:
    """
    Build the wheel of the working tree into ``out_dir`` and return its path.

    :param out_dir: an empty directory.
    """
    _uv("build", "--wheel", "--out-dir", out_dir, ROOT)
    (wheel,) = out_dir.glob("airflow_batchstream-*.whl")
    return wheel


def lock_constraints(path: Path) -> Path:
    """
    Write the locked versions of every dependency (dev group included) as a constraints file.

    :param path: the file to write.
    """
    _uv("export", "--frozen", "--no-hashes", "--no-emit-project", "--output-file", path)
    return path


def venv_with(venv: Path, *requirements: str | Path) -> Path:
    """
    Create a virtual environment with the requirements installed at the lock's versions; return its python.

    :param venv: where to create it (outside the repository, so nothing of the checkout is importable).
    :param requirements: what to install: the wheel's path, ``"pytest"``, ...
    """
    _uv("venv", "--quiet", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    constraints = lock_constraints(venv / "constraints.txt")
    _uv("pip", "install", "--quiet", "--python", python, "--constraint", constraints, *requirements)
    return python
