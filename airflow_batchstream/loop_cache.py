"""A value per asyncio event loop (a ``grpc.aio`` channel belongs to one), released when its loop closes."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

V = TypeVar("V")

#: Every cache, so that an access to one releases the closed loops of all of them.
_CACHES: weakref.WeakSet[PerLoop[Any]] = weakref.WeakSet()


class PerLoop(Generic[V]):
    """
    Hold one value per event loop; each access drops the values of loops that have closed, in every cache.

    A ``WeakKeyDictionary`` keyed by the loop cannot do this: the values (clients, channels, pollers)
    refer to their loop, so the loop never becomes unreachable. ``dag.test()`` and tests run each
    trigger under its own ``asyncio.run()``; the triggerer keeps one loop for its life.

    :param factory: builds the value of a loop that has none yet.
    """

    def __init__(self, factory: Callable[[], V]) -> None:
        self._factory = factory
        self._values: dict[asyncio.AbstractEventLoop, V] = {}
        _CACHES.add(self)

    def get(self) -> V:
        """Return the running loop's value, building it if needed."""
        loop = asyncio.get_running_loop()
        for cache in list(_CACHES):
            cache._drop_closed()
        value = self._values.get(loop)
        if value is None:
            value = self._values[loop] = self._factory()
        return value

    def _drop_closed(self) -> None:
        for closed in [loop for loop in self._values if loop.is_closed()]:
            del self._values[closed]

    def __len__(self) -> int:
        """How many loops hold a value (closed ones included until the next access)."""
        return len(self._values)
