"""Hooks for the Cloud Batch API: authentication from a Google connection, one cached client, retries."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.google.common.consts import CLIENT_INFO
from airflow.providers.google.common.hooks.base_google import (
    PROVIDE_PROJECT_ID,
    GoogleBaseAsyncHook,
    GoogleBaseHook,
)
from asgiref.sync import sync_to_async

from airflow_batchstream.api_version import (
    API_VERSIONS,
    DEFAULT_API_VERSION,
    batch_module,
    emulator_host,
)
from airflow_batchstream.arguments import ArgumentCheck, job_id_problems, kind
from airflow_batchstream.loop_cache import PerLoop
from airflow_batchstream.retry import (
    DEFAULT_RETRY_DEADLINE,
    retry_bound,
    transient_async_retrying,
    transient_retrying,
)
from airflow_batchstream.validation.violations import Violation

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from types import ModuleType

    from google.api_core.operation import Operation

    from airflow_batchstream.preflight import Finding
    from airflow_batchstream.validation import Inspection

T = TypeVar("T")

#: The orders ListJobs documents (``ListJobsRequest.order_by``); ``""`` is the service's own.
ORDER_BY = ("", "name", "name desc", "create_time", "create_time desc")
#: Timeout of one RPC attempt, in seconds; the retry deadline bounds the whole call.
RPC_TIMEOUT = 60.0


def job_path(project_id: str, region: str, job_id: str) -> str:
    """
    Return a job's full resource name.

    :param project_id: Google Cloud project id.
    :param region: Batch region, such as ``us-central1``.
    :param job_id: the job's id within the region.
    """
    return f"projects/{project_id}/locations/{region}/jobs/{job_id}"


def check_hook_arguments(
    owner: str, gcp_conn_id: Any, impersonation_chain: Any, api_version: Any, retry_deadline: Any
) -> None:
    """
    Refuse bad hook constructor arguments, all at once (shared by the sync and async hooks).

    :param owner: the hook class's name, for the message.
    :param gcp_conn_id: the connection id.
    :param impersonation_chain: a service account or a list of them.
    :param api_version: ``"v1"`` or ``"v1alpha"``.
    :param retry_deadline: seconds one call may spend retrying.
    """
    check = ArgumentCheck()
    check.text("gcp_conn_id", gcp_conn_id, required=True)
    check.accounts("impersonation_chain", impersonation_chain)
    check.choice("api_version", api_version, API_VERSIONS)
    check.number("retry_deadline", retry_deadline, zero=True)
    check.raise_if_any(owner)


def check_job_call(owner: str, name: Any, deadline: Any = None) -> None:
    """
    Refuse a bad job name or deadline of a call on one job, before the call.

    :param owner: the method, for the message.
    :param name: the job's full resource name.
    :param deadline: seconds of retrying, or ``None``.
    """
    check = ArgumentCheck()
    check.job_name("name", name)
    check.number("deadline", deadline, required=False, zero=True)
    check.raise_if_any(owner)


def build_batch_client(
    api_version: str, credentials: Any = None, client_options: Any = None, *, asynchronous: bool = False
) -> Any:
    """
    Build a ``BatchServiceClient`` or its asyncio twin; plaintext gRPC when ``BATCH_EMULATOR_HOST`` is set.

    An asyncio client's channel belongs to the event loop running when it is built: build it inside
    that loop and use it only there.

    :param api_version: ``"v1alpha"`` or ``"v1"``.
    :param credentials: Google credentials for the real API; unused with the emulator.
    :param client_options: ``ClientOptions`` for the real API; unused with the emulator.
    :param asynchronous: build a ``BatchServiceAsyncClient`` on a ``grpc.aio`` channel.
    """
    module = batch_module(api_version)
    client_cls = module.BatchServiceAsyncClient if asynchronous else module.BatchServiceClient
    host = emulator_host()
    if host:
        from airflow_batchstream.emulator_client import emulator_channel

        transports = module.services.batch_service.transports
        channel = emulator_channel(host, asynchronous=asynchronous)
        if asynchronous:
            transport = transports.BatchServiceGrpcAsyncIOTransport(channel=channel)
        else:
            transport = transports.BatchServiceGrpcTransport(channel=channel)
        return client_cls(transport=transport)
    return client_cls(credentials=credentials, client_info=CLIENT_INFO, client_options=client_options)


def _check_listing(
    owner: str, region: Any, project_id: Any, filter: Any, order_by: Any = None, limit: Any = None
) -> None:
    """
    Refuse bad ListJobs arguments, all at once, before any call.

    :param owner: the hook method called.
    :param region: the region to list.
    :param project_id: the project to list.
    :param filter: the filter, if any.
    :param order_by: the order, if any.
    :param limit: the most jobs to return (or a page's size), if any.
    """
    check = ArgumentCheck()
    check.region("region", region)
    check.project_id("project_id", project_id)
    check.text("filter", filter)
    check.choice("order_by", order_by or "", ORDER_BY)
    check.integer("limit", limit, minimum=0, required=False)
    check.raise_if_any(owner)


class BatchStreamHook(GoogleBaseHook):
    """
    Talk to the Cloud Batch API with the credentials of a Google Cloud connection.

    Every call is retried on transient gRPC errors (see :mod:`airflow_batchstream.retry`) and never on
    permanent ones. ``CreateJob`` always carries a ``request_id``, so a retried create cannot make a
    second job.

    :param gcp_conn_id: Airflow connection with the Google credentials (key file, ADC, ...).
    :param impersonation_chain: service account to impersonate, or a chain of them, ending in the
        account whose access token is used.
    :param api_version: ``"v1"`` (default, generally available) or ``"v1alpha"``.
    :param retry_deadline: seconds one call may spend retrying transient errors.
    """

    def __init__(
        self,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        api_version: str = DEFAULT_API_VERSION,
        retry_deadline: float = DEFAULT_RETRY_DEADLINE,
        **kwargs: Any,
    ) -> None:
        check_hook_arguments(
            type(self).__name__, gcp_conn_id, impersonation_chain, api_version, retry_deadline
        )
        super().__init__(gcp_conn_id=gcp_conn_id, impersonation_chain=impersonation_chain, **kwargs)
        self.api_version = api_version
        self.retry_deadline = retry_deadline

    @classmethod
    def get_connection(cls, conn_id: str) -> Any:
        """
        Return the Airflow connection; refused first when real Google calls are (see :func:`emulator_host`).

        Reading the connection is the first step towards Google, so a test that forgot the emulator
        learns it here rather than from a missing connection or a job submitted for real.

        :param conn_id: the connection id.
        """
        emulator_host()
        return super().get_connection(conn_id)

    @property
    def project_id(self) -> str:
        """The connection's project; with an emulator it is read from the connection alone, and no
        credential is loaded (none is ever used there)."""
        if emulator_host():
            project: str = self._get_field("project") or PROVIDE_PROJECT_ID
            return project
        return super().project_id

    @cached_property
    def types(self) -> ModuleType:
        """The generated module of this hook's API version (``Job``, ``JobStatus``, requests)."""
        return batch_module(self.api_version)

    def get_conn(self) -> Any:
        """Return the cached ``BatchServiceClient`` of this hook's API version."""
        return self._client

    @cached_property
    def _client(self) -> Any:
        if emulator_host():
            return build_batch_client(self.api_version)
        return build_batch_client(self.api_version, self.get_credentials(), self.client_options())

    def client_options(self) -> Any:
        """
        Return the connection's ``ClientOptions`` (universe domain), or ``None``: Google's default universe.

        ``GoogleBaseHook.get_client_options`` arrived in apache-airflow-providers-google 22.0.0; with an
        older provider there are no options to give, as for that provider's own hooks.
        """
        get_client_options = getattr(self, "get_client_options", None)
        return get_client_options() if get_client_options else None

    def _call(self, method: Callable[..., T], deadline: float | None = None, **kwargs: Any) -> T:
        retrying = transient_retrying(retry_bound(self.retry_deadline, deadline))
        return retrying(method, retry=None, timeout=RPC_TIMEOUT, **kwargs)

    @GoogleBaseHook.fallback_to_default_project_id
    def submit_job(
        self,
        job: Any,
        job_id: str,
        region: str,
        project_id: str = PROVIDE_PROJECT_ID,
        request_id: str | None = None,
    ) -> Any:
        """
        Create a job and return it as the service stored it.

        :param job: a ``Job`` of this hook's API version.
        :param job_id: the id to create it under.
        :param region: Batch region, such as ``us-central1``.
        :param project_id: project to create it in; defaults to the connection's project.
        :param request_id: idempotency key; the same key within an hour returns the same job.
            A random one is used when not given.
        """
        check = ArgumentCheck()
        if not isinstance(job, self.types.Job):
            check.violations.append(
                Violation(
                    "job",
                    "bad-argument",
                    f"expected a Job of this hook's API version ({self.api_version}), got {kind(job)}",
                    "parse it first: airflow_batchstream.spec.parse_job(spec, api_version)",
                )
            )
        check.add(job_id_problems(job_id))
        check.region("region", region)
        check.project_id("project_id", project_id)
        check.request_id("request_id", request_id)
        check.raise_if_any("BatchStreamHook.submit_job")
        request = self.types.CreateJobRequest(
            parent=f"projects/{project_id}/locations/{region}",
            job_id=job_id,
            job=job,
            request_id=request_id or str(uuid.uuid4()),
        )
        return self._call(self.get_conn().create_job, request=request)

    def get_job(self, name: str, deadline: float | None = None) -> Any:
        """
        Return a job by its full resource name.

        :param name: ``projects/P/locations/L/jobs/ID``.
        :param deadline: at most this many seconds of retrying (less than the hook's own bound).
        """
        check_job_call("BatchStreamHook.get_job", name, deadline)
        return self._call(self.get_conn().get_job, deadline, name=name)

    def cancel_job(self, name: str) -> Operation:
        """
        Ask the service to cancel a job; return the long-running operation.

        :param name: ``projects/P/locations/L/jobs/ID``.
        """
        check_job_call("BatchStreamHook.cancel_job", name)
        return self._call(self.get_conn().cancel_job, name=name)

    def delete_job(self, name: str) -> Operation:
        """
        Ask the service to delete a job; return the long-running operation.

        :param name: ``projects/P/locations/L/jobs/ID``.
        """
        check_job_call("BatchStreamHook.delete_job", name)
        return self._call(self.get_conn().delete_job, name=name)

    def _paged(self, method: Callable[..., Any], request: Any, items: str) -> Iterator[Any]:
        """Yield the items of every page, each page's call retried on its own (the client's pager
        would fetch the pages after the first without any retry).

        :param method: the client's list method.
        :param request: the list request; its ``page_token`` advances.
        :param items: the response field holding the page's items, such as ``"jobs"``.
        """
        while True:
            page = self._call(method, request=request)
            yield from getattr(page, items)
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    @GoogleBaseHook.fallback_to_default_project_id
    def iter_jobs(
        self,
        region: str,
        project_id: str = PROVIDE_PROJECT_ID,
        filter: str | None = None,
        order_by: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Any]:
        """
        Yield the jobs of a region, reading pages as they are needed.

        :param region: Batch region, such as ``us-central1``.
        :param project_id: project to list; defaults to the connection's project.
        :param filter: a ListJobs filter, such as ``labels.airflow-dag-id="etl"``.
        :param order_by: ``"create_time desc"``, ``"create_time"``, ``"name"`` or ``"name desc"``;
            the service's order when not given.
        :param page_size: jobs a page holds at most; the service's default when not given.
        """
        _check_listing("BatchStreamHook.iter_jobs", region, project_id, filter, order_by, page_size)
        request = self.types.ListJobsRequest(
            parent=f"projects/{project_id}/locations/{region}",
            filter=filter or "",
            order_by=order_by or "",
            page_size=page_size or 0,
        )
        return self._paged(self.get_conn().list_jobs, request, "jobs")

    @GoogleBaseHook.fallback_to_default_project_id
    def list_jobs(
        self,
        region: str,
        project_id: str = PROVIDE_PROJECT_ID,
        filter: str | None = None,
        limit: int | None = None,
        order_by: str | None = None,
    ) -> list[Any]:
        """
        List the jobs of a region, following pages.

        :param region: Batch region, such as ``us-central1``.
        :param project_id: project to list; defaults to the connection's project.
        :param filter: a ListJobs filter, such as ``labels.airflow-dag-id="etl"``.
        :param limit: stop after this many jobs; pages are asked no bigger than that.
        :param order_by: the service's order, such as ``"create_time desc"`` (newest first).
        """
        _check_listing("BatchStreamHook.list_jobs", region, project_id, filter, order_by, limit)
        jobs = self.iter_jobs(
            region=region, project_id=project_id, filter=filter, order_by=order_by, page_size=limit
        )
        return list(itertools.islice(jobs, limit))

    def list_tasks(self, job_name: str, task_group: str = "group0", filter: str | None = None) -> list[Any]:
        """
        List the tasks of one task group of a job, following pages.

        :param job_name: ``projects/P/locations/L/jobs/ID``.
        :param task_group: the task group's id; Batch jobs have one, ``group0``.
        :param filter: a ListTasks filter, such as ``status.state="FAILED"``.
        """
        check = ArgumentCheck()
        check.job_name("job_name", job_name)
        check.task_group("task_group", task_group)
        check.text("filter", filter)
        check.raise_if_any("BatchStreamHook.list_tasks")
        request = self.types.ListTasksRequest(
            parent=f"{job_name}/taskGroups/{task_group}", filter=filter or ""
        )
        return list(self._paged(self.get_conn().list_tasks, request, "tasks"))

    def inspect_job(self, job: Any, region: str, job_id: str | None = None) -> Inspection:
        """
        Validate a job for image streaming; return the violations and the images to preflight.

        :param job: a dict (camelCase or snake_case), a JSON string or a ``Job`` proto.
        :param region: Batch region, such as ``us-central1``.
        :param job_id: the id it will be created under, when known.
        """
        from airflow_batchstream.validation import inspect_job

        return inspect_job(job, region=region, api_version=self.api_version, job_id=job_id)

    def validate_job(self, job: Any, region: str, job_id: str | None = None) -> list[Violation]:
        """
        Return every image-streaming rule ``job`` breaks (empty: none); no API call.

        :param job: a dict (camelCase or snake_case), a JSON string or a ``Job`` proto.
        :param region: Batch region, such as ``us-central1``.
        :param job_id: the id it will be created under, when known.
        """
        return self.inspect_job(job, region, job_id).violations

    def preflight(
        self,
        job: Any,
        region: str,
        project_id: str | None = None,
        mode: str = "warn",
        log: Any = None,
    ) -> list[Finding]:
        """
        Check the job's streaming images (registry v2 API) and the Container File System API.

        :param job: a dict (camelCase or snake_case), a JSON string or a ``Job`` proto.
        :param region: Batch region, such as ``us-central1``.
        :param project_id: project the job runs in; defaults to the connection's project.
        :param mode: ``"warn"`` (checks that cannot run only warn), ``"strict"`` or ``"off"``.
        :param log: where warnings go.
        :return: the warnings.
        :raises PreflightError: on problems.
        """
        return self.run_preflight(self.inspect_job(job, region), project_id=project_id, mode=mode, log=log)

    def run_preflight(
        self,
        inspection: Inspection,
        project_id: str | None = None,
        mode: str = "warn",
        log: Any = None,
    ) -> list[Finding]:
        """
        Run the preflight on an inspected job with this hook's credentials.

        :param inspection: what :meth:`inspect_job` returned.
        :param project_id: project the job runs in; defaults to the connection's project.
        :param mode: ``"warn"``, ``"strict"`` or ``"off"``.
        :param log: where warnings go.
        """
        from airflow_batchstream.preflight import PREFLIGHT_MODES, run_preflight

        check = ArgumentCheck()
        check.choice("mode", mode, PREFLIGHT_MODES)
        check.project_id("project_id", project_id)
        check.raise_if_any("BatchStreamHook.run_preflight")
        if mode == "off":
            return []
        return run_preflight(
            inspection.streaming_images,
            project_id or self.project_id,
            None if emulator_host() else self.get_credentials(),
            mode=mode,
            log=log or self.log,
        )


class _LoopClients:
    """The asyncio clients built in one event loop, and the lock that makes each one be built once."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.clients: dict[tuple[str, ...], Any] = {}


#: Event loop → its clients. A ``grpc.aio`` channel is bound to the loop it was built in: the
#: triggerer has one loop for its life, but ``dag.test()`` runs each trigger in a fresh loop, so the
#: cache is per loop, and a loop's clients go when the loop has closed.
_CLIENTS_BY_LOOP: PerLoop[_LoopClients] = PerLoop(_LoopClients)


class BatchStreamAsyncHook(GoogleBaseAsyncHook):
    """
    Asyncio calls to the Cloud Batch API for triggers: GetJob and CancelJob, retried like the sync hook.

    All hooks of one process and event loop with the same endpoint, connection, impersonation chain
    and API version share one client and gRPC channel: thousands of waiting triggers use one HTTP/2
    connection, and nothing is built per poll. The connection and credentials are read through
    ``sync_to_async``, off the event loop.

    :param gcp_conn_id: Airflow connection with the Google credentials.
    :param impersonation_chain: service account to impersonate, or a chain of them.
    :param api_version: ``"v1"`` (default) or ``"v1alpha"``.
    :param retry_deadline: seconds one call may spend retrying transient errors.
    """

    sync_hook_class = BatchStreamHook

    def __init__(
        self,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        api_version: str = DEFAULT_API_VERSION,
        retry_deadline: float = DEFAULT_RETRY_DEADLINE,
        **kwargs: Any,
    ) -> None:
        check_hook_arguments(
            type(self).__name__, gcp_conn_id, impersonation_chain, api_version, retry_deadline
        )
        super().__init__(
            gcp_conn_id=gcp_conn_id,
            impersonation_chain=impersonation_chain,
            api_version=api_version,
            **kwargs,
        )
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.api_version = api_version
        self.retry_deadline = retry_deadline

    def client_key(self) -> tuple[str, ...]:
        """Return what identifies a shareable client: endpoint, connection, impersonation, API version."""
        chain = self.impersonation_chain
        chain_key = ",".join([chain] if isinstance(chain, str) else list(chain or ()))
        return (emulator_host() or "googleapis", self.gcp_conn_id, chain_key, self.api_version)

    async def get_conn(self) -> Any:
        """Return the ``BatchServiceAsyncClient`` shared by this loop for this hook's key; build it once."""
        entry = _CLIENTS_BY_LOOP.get()
        key = self.client_key()
        client = entry.clients.get(key)
        if client is not None:
            return client
        async with entry.lock:
            if key not in entry.clients:
                entry.clients[key] = await self._build_client()
            return entry.clients[key]

    async def _build_client(self) -> Any:
        if emulator_host():
            return build_batch_client(self.api_version, asynchronous=True)
        sync_hook = await self.get_sync_hook()
        credentials = await sync_to_async(sync_hook.get_credentials)()
        options = await sync_to_async(sync_hook.client_options)()
        return build_batch_client(self.api_version, credentials, options, asynchronous=True)

    async def _call(self, method_name: str, deadline: float | None = None, **kwargs: Any) -> Any:
        client = await self.get_conn()
        method: Callable[..., Awaitable[Any]] = getattr(client, method_name)
        async for attempt in transient_async_retrying(retry_bound(self.retry_deadline, deadline)):
            with attempt:
                return await method(retry=None, timeout=RPC_TIMEOUT, **kwargs)
        raise AssertionError("tenacity reraises the last error")

    async def get_job(self, name: str, deadline: float | None = None) -> Any:
        """
        Return a job by its full resource name.

        :param name: ``projects/P/locations/L/jobs/ID``.
        :param deadline: at most this many seconds of retrying (less than the hook's own bound).
        """
        check_job_call("BatchStreamAsyncHook.get_job", name, deadline)
        return await self._call("get_job", deadline, name=name)

    async def cancel_job(self, name: str, deadline: float | None = None) -> Any:
        """
        Ask the service to cancel a job; return the long-running operation without waiting for it.

        :param name: ``projects/P/locations/L/jobs/ID``.
        :param deadline: at most this many seconds of retrying (less than the hook's own bound).
        """
        check_job_call("BatchStreamAsyncHook.cancel_job", name, deadline)
        return await self._call("cancel_job", deadline, name=name)
