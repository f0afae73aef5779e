"""Image sizes and the start-up delay they cause: what image streaming saves.

Without streaming, a container starts after its whole image is downloaded: ``size / bandwidth``
seconds. With streaming (``enable_image_streaming`` on an Artifact Registry image,
``LOCATION-docker.pkg.dev/...``; Batch streams no other registry) the container starts almost at
once, after ``streaming_seconds``. A VM pulls an image once: tasks that run later on the same
VM (the next wave when ``parallelism < task_count``) start without a pull, like the real cache.

Sizes come from, in order: :meth:`ImageCatalog.register`, a pluggable ``lookup`` callable
(e.g. the emulator's registry store), and the default size.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

#: The Artifact Registry Docker host form, the only one Batch streams.
ARTIFACT_REGISTRY = re.compile(r"^[a-z0-9-]+-docker\.pkg\.dev/")
DEFAULT_IMAGE_SIZE = 512 * 1024 * 1024
DEFAULT_BANDWIDTH = 1024 * 1024 * 1024
DEFAULT_STREAMING_SECONDS = 0.05


def is_streamed(container: Any) -> bool:
    """Whether Batch would stream this container's image.

    :param container: a ``Runnable.Container`` protobuf message.
    """
    return bool(container.enable_image_streaming) and bool(ARTIFACT_REGISTRY.match(container.image_uri))


class ImageCatalog:
    """Image sizes and the pull model. Thread-safe.

    :param default_size: bytes assumed for an image nobody registered.
    :param bandwidth: bytes per second of a non-streamed pull.
    :param streaming_seconds: start-up delay of a streamed image.
    :param lookup: optional ``uri -> size in bytes or None`` consulted after registered sizes.
    """

    def __init__(
        self,
        default_size: int = DEFAULT_IMAGE_SIZE,
        bandwidth: float = DEFAULT_BANDWIDTH,
        streaming_seconds: float = DEFAULT_STREAMING_SECONDS,
        lookup: Callable[[str], int | None] | None = None,
    ) -> None:
        if default_size < 0 or bandwidth <= 0 or streaming_seconds < 0:
            raise ValueError("default_size and streaming_seconds must be >= 0 and bandwidth > 0")
        self.default_size = default_size
        self.bandwidth = bandwidth
        self.streaming_seconds = streaming_seconds
        self.lookup = lookup
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}

    def register(self, uri: str, size_bytes: int) -> None:
        """Declare an image's size.

        :param uri: the image URI exactly as jobs name it.
        :param size_bytes: its compressed size in bytes.
        """
        if size_bytes < 0:
            raise ValueError(f"size_bytes must not be negative, not {size_bytes}")
        with self._lock:
            self._sizes[uri] = int(size_bytes)

    def size(self, uri: str) -> int:
        """The size used for an image.

        :param uri: the image URI.
        """
        with self._lock:
            known = self._sizes.get(uri)
        if known is None and self.lookup is not None:
            known = self.lookup(uri)
        return self.default_size if known is None else known

    def pull_seconds(self, runnables: Iterable[Any]) -> float:
        """Seconds from a task's VM being ready to its first container running (images pulled in turn).

        :param runnables: the task's runnables (protobuf messages); scripts and barriers pull nothing.
        """
        total = 0.0
        seen: set[str] = set()
        for runnable in runnables:
            if runnable.WhichOneof("executable") != "container":
                continue
            container = runnable.container
            if container.image_uri in seen:
                continue
            seen.add(container.image_uri)
            if is_streamed(container):
                total += self.streaming_seconds
            else:
                total += self.size(container.image_uri) / self.bandwidth
        return total
