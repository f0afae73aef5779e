"""The package as a user gets it: build it with uv and install the wheel into a fresh virtual environment.

One place for every test that needs the installed package rather than this checkout:

- :func:`install_wheel` is a user's install (the wheel check, ``tests/wheel/``): the wheel alone, from an
  empty directory, resolved afresh from the package index with no lock file and no constraints of ours;
- :func:`venv_with` installs at the versions of the environment running the tests (``uv.lock``'s in
  ``make test``, the floors in ``make test-lowest``), so a test there checks those versions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def uv_executable() -> str | None:
    """Return the ``uv`` the Makefile names (``$UV``, on ``PATH``, or ``.tools/bin/uv``), or ``None``."""
    local = ROOT / ".tools" / "bin" / "uv"
    return os.environ.get("UV") or shutil.which("uv") or (str(local) if local.exists() else None)


def _uv(*args: str | Path, cwd: Path = ROOT) -> str:
    uv = uv_executable()
    if uv is None:
        raise RuntimeError("uv is not installed: run `make setup`")
    done = subprocess.run([uv, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"uv {' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def build_distributions(out_dir: Path) -> tuple[Path, Path]:
    """
    Build the working tree's sdist, then the wheel from that sdist (``uv build``); return (wheel, sdist).

    :param out_dir: an empty directory for the two files.
    """
    _uv("build", "--quiet", "--out-dir", out_dir, ROOT)
    (wheel,) = out_dir.glob("airflow_batchstream-*.whl")
    (sdist,) = out_dir.glob("airflow_batchstream-*.tar.gz")
    return wheel, sdist


def install_wheel(wheel: Path, venv: Path) -> Path:
    """
    A user's install: ``python -m venv``, then the wheel alone into it; return the venv's ``bin`` directory.

    The installer is ``uv pip install`` with no project file in reach (run from the empty venv, uv's
    configuration files ignored): the wheel's own requirements, resolved afresh against the package
    index (by uv's resolver, where a user may run pip's), in seconds from uv's cache where plain pip
    downloads everything again (over 16 minutes on the loaded CI machine).

    :param wheel: the built ``.whl`` file.
    :param venv: where to create the environment (must not exist yet).
    """
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    _uv("pip", "install", "--quiet", "--no-config", "--python", python, wheel, cwd=venv)
    return python.parent


def running_versions(path: Path) -> Path:
    """
    Write the versions installed in the environment running the tests (this project left out) to a file.

    :param path: the constraints file to write.
    """
    path.write_text(_uv("pip", "freeze", "--exclude-editable", "--python", sys.executable))
    return path


def venv_with(venv: Path, *requirements: str | Path) -> Path:
    """
    Create a virtual environment with the requirements at the running tests' versions; return its python.

    :param venv: where to create it (outside the repository, so nothing of the checkout is importable).
    :param requirements: what to install: the wheel's path, ``"pytest"``, ...
    """
    _uv("venv", "--quiet", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    constraints = running_versions(venv / "constraints.txt")
    _uv("pip", "install", "--quiet", "--python", python, "--constraint", constraints, *requirements)
    return python
