"""Access to ``../shared/samples/batch-samples``: real job specs, read in place, skipped when absent."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "shared" / "samples" / "batch-samples"
REFERENCE_SAMPLE = "api-samples/image-streaming/image_streaming_simple_job.json"


def read_sample(relative_path: str, **placeholders: str) -> str:
    """
    Return a sample's text with its ``${Name}`` placeholders filled; skip the test when samples are absent.

    :param relative_path: path below ``batch-samples/``.
    :param placeholders: values for the ``${Name}`` placeholders.
    """
    path = SAMPLES_DIR / relative_path
    if not path.exists():
        pytest.skip(f"{path} is not here: the shared samples sit beside a developer checkout, not in a clone")
    return string.Template(path.read_text()).substitute(placeholders)
