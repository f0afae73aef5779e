"""The ``hook`` property that operators and sensors share, built on first use (cheap DAG parsing)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_batchstream.hooks.batch import BatchStreamHook


class BatchStreamHookMixin:
    """Give a task a cached :class:`BatchStreamHook` from its connection, impersonation and API version."""

    gcp_conn_id: str
    impersonation_chain: str | Sequence[str] | None
    api_version: str

    @cached_property
    def hook(self) -> BatchStreamHook:
        """The hook, built on first use so that parsing a DAG imports no Google client code."""
        from airflow_batchstream.hooks.batch import BatchStreamHook

        return BatchStreamHook(
            gcp_conn_id=self.gcp_conn_id,
            impersonation_chain=self.impersonation_chain,
            api_version=self.api_version,
        )
