"""pyproject.toml's floors are the versions CI's lowest environment installs and tests.

``scripts/compat_env.sh lowest`` resolves every direct dependency to its floor (uv's lowest-direct
resolution) and sets ``BATCHSTREAM_TEST_ENVIRONMENT=lowest``; there each floor must be exactly what
got installed, so a floor nobody can install together with the others, or one that a dependency
silently lifts, fails here instead of misleading users.
"""

from __future__ import annotations

import os
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

#: pyproject.toml's [project] dependencies, as the installed package's metadata carries them.
REQUIREMENTS = [Requirement(line) for line in metadata.requires("airflow-batchstream") or []]


def _floor(requirement: Requirement) -> str | None:
    return next((spec.version for spec in requirement.specifier if spec.operator == ">="), None)


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=lambda requirement: requirement.name)
def test_every_dependency_declares_a_floor(requirement):
    assert _floor(requirement), f"{requirement} needs a '>=' floor that CI's lowest environment tests"


@pytest.mark.skipif(
    os.environ.get("BATCHSTREAM_TEST_ENVIRONMENT") != "lowest",
    reason="checked in the lowest environment (scripts/compat_env.sh lowest), where floors are installed",
)
@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=lambda requirement: requirement.name)
def test_the_lowest_environment_installs_each_floor(requirement):
    installed = metadata.version(requirement.name)
    assert Version(installed) == Version(_floor(requirement) or "0"), (
        f"the lowest environment installs {requirement.name}=={installed}, but pyproject.toml declares "
        f"{requirement}: set the floor to what is tested"
    )
