"""Access to third-party samples beside the checkout, read in place, skipped when absent.

``../shared/samples/batch-samples``: real job specs. Google's published Python samples for Batch
(the ``batch/`` folder of GoogleCloudPlatform/python-docs-samples): ``BATCHSTREAM_GOOGLE_SAMPLES``,
else ``../shared/samples/python-docs-samples/batch``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import string
from pathlib import Path
from types import ModuleType

import pytest

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "shared" / "samples" / "batch-samples"
REFERENCE_SAMPLE = "api-samples/image-streaming/image_streaming_simple_job.json"
GOOGLE_SAMPLES_ENV = "BATCHSTREAM_GOOGLE_SAMPLES"
GOOGLE_SAMPLES_DIR = SAMPLES_DIR.parent / "python-docs-samples" / "batch"


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


def google_sample(relative_path: str) -> ModuleType:
    """
    Import one of Google's Python samples for Batch from its file, as published; skip when absent.

    :param relative_path: path below the samples' ``batch/`` folder, e.g. ``get/get_job.py``.
    """
    folder = Path(os.environ.get(GOOGLE_SAMPLES_ENV) or GOOGLE_SAMPLES_DIR)
    path = folder / relative_path
    if not path.is_file():
        pytest.skip(
            f"{path} is not here: Google's Batch samples are third-party code, not kept in this "
            f"repository. Set {GOOGLE_SAMPLES_ENV} to the batch/ folder of a "
            f"GoogleCloudPlatform/python-docs-samples checkout, or put that folder at {GOOGLE_SAMPLES_DIR}"
        )
    return _import_file(path.resolve())


@functools.cache
def _import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"google_samples.{path.parent.name}.{path.stem}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
