"""Refuse, at import, an Airflow this provider does not support: one error that names the range."""

from __future__ import annotations

import re
from importlib import metadata

#: The Airflow releases this provider supports; ``pyproject.toml`` declares the same (a test checks).
SUPPORTED_AIRFLOW = ">=3.1.8,<4"


class UnsupportedAirflowVersion(ImportError):
    """The installed Apache Airflow is outside :data:`SUPPORTED_AIRFLOW`."""


def release(version: str) -> tuple[int, ...]:
    """
    Return the numeric release of a version string (``"3.1.0rc1"`` gives ``(3, 1, 0)``).

    :param version: a PEP 440 version such as ``3.2.1`` or ``3.4.0b2``.
    """
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group().split(".")) if match else ()


def installed_airflow_version() -> str | None:
    """Return the installed Apache Airflow's version (``apache-airflow-core`` from 3.0), or ``None``."""
    for distribution in ("apache-airflow-core", "apache-airflow"):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return None


def check_airflow_version(version: str | None) -> None:
    """
    Raise :class:`UnsupportedAirflowVersion` unless ``version`` is within :data:`SUPPORTED_AIRFLOW`.

    :param version: the installed Airflow's version, ``None`` when Airflow is not installed.
    """
    lowest, below = (release(bound.lstrip("<>=")) for bound in SUPPORTED_AIRFLOW.split(","))
    # As in PEP 440, a pre-release of the lowest version (3.1.8rc1) comes before it.
    early = version is not None and release(version) == lowest and re.search(r"(a|b|rc|dev)\d*$", version)
    if version is not None and lowest <= release(version) < below and not early:
        return
    found = f"Apache Airflow {version} is installed" if version else "Apache Airflow is not installed"
    raise UnsupportedAirflowVersion(
        f"airflow-batchstream supports apache-airflow{SUPPORTED_AIRFLOW}, but {found}. "
        f"Install a supported Airflow (pip install 'apache-airflow{SUPPORTED_AIRFLOW}'), "
        "or a release of airflow-batchstream made for yours."
    )
