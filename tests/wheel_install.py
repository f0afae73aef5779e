"""The package as a user gets it: build the sdist and wheel with uv, install the wheel with plain pip.

Shared by the wheel check (``tests/wheel/``) and any test that needs the installed package rather than
this checkout: the wheel goes into a fresh virtual environment of the running Python with nothing but
``pip install <wheel>``: no lock file and no constraints of ours.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def uv_executable() -> str:
    """Return uv: ``$UV``, else uv on ``PATH``, else the copy ``make`` installs into ``.tools/bin``."""
    uv = os.environ.get("UV") or shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(uv).exists() and not shutil.which(uv):
        raise RuntimeError("uv not found: run `make setup` (it installs uv into .tools/bin) or set UV")
    return uv


def build_distributions(out_dir: Path) -> tuple[Path, Path]:
    """
    Build this repository's sdist, then the wheel from that sdist (``uv build``); return (wheel, sdist).

    :param out_dir: an empty directory for the two files.
    """
    subprocess.run(
        [uv_executable(), "build", "--quiet", "--out-dir", str(out_dir), str(ROOT)], check=True, timeout=600
    )
    (wheel,) = out_dir.glob("*.whl")
    (sdist,) = out_dir.glob("*.tar.gz")
    return wheel, sdist


def install_wheel(wheel: Path, venv: Path) -> Path:
    """
    Create a virtual environment and ``pip install`` the wheel into it; return its ``bin`` directory.

    :param wheel: the built ``.whl`` file.
    :param venv: where to create the environment (must not exist yet).
    """
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    bin_dir = venv / "bin"
    # From an empty directory, so that no project file (pyproject.toml, uv.lock) can take part.
    subprocess.run(
        [str(bin_dir / "pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True,
        cwd=venv,
        timeout=1800,
    )
    return bin_dir
