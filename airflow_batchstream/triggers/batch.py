"""The trigger that waits for a Batch job in the triggerer, without holding a worker slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_batchstream.api_version import DEFAULT_API_VERSION, check_api_version
from airflow_batchstream.outcome import ended_event, error_event, timeout_event, vanished_event
from airflow_batchstream.polling import poll_delays
from airflow_batchstream.progress import ProgressTracker
from airflow_batchstream.summary import state_name
from airflow_batchstream.triggers.poller import PollGroup

if TYPE_CHECKING:
    from airflow_batchstream.hooks.batch import BatchStreamAsyncHook


class JobStatePoller(Protocol):
    """What the trigger asks for a job's state; a shared poller (one ListJobs for many jobs) fits here too."""

    async def get_job(self, name: str, deadline: float | None = None) -> Any:
        """
        Return the job, raising ``google.api_core.exceptions.NotFound`` when it is gone.

        :param name: the job's full resource name.
        :param deadline: at most this many seconds of retrying transient errors.
        """

    async def cancel_job(self, name: str, deadline: float | None = None) -> Any:
        """
        Request the job's cancellation.

        :param name: the job's full resource name.
        :param deadline: at most this many seconds of retrying transient errors.
        """


class BatchStreamJobTrigger(BaseTrigger):
    """
    Wait for a Batch job to end, then fire one event with a plain-JSON summary.

    The event's payload has ``status`` (``"ended"``, ``"timeout"`` or ``"error"``), ``job_name``,
    ``state`` (a job state name, or ``"NOT_FOUND"`` for a job deleted while watched), ``summary``
    and ``message``. Polls come soon after the start (0.5 s, doubling) and settle at
    ``poll_interval``, with jitter. Transient API errors are retried (see
    :mod:`airflow_batchstream.retry`) within the deadline; a permanent one ends the wait.

    :param job_name: the job's full resource name, ``projects/P/locations/L/jobs/ID``.
    :param gcp_conn_id: Airflow connection with the Google credentials.
    :param impersonation_chain: service account to impersonate, or a chain of them.
    :param api_version: ``"v1"`` (default) or ``"v1alpha"``.
    :param poll_interval: the longest wait between two looks at the job, in seconds (with the
        shared poller: the longest a change of the job's state goes unnoticed).
    :param deadline: absolute wall-clock deadline (epoch seconds), or ``None`` for none.
    :param cancel_on_deadline: cancel the job when the deadline passes.
    :param cancel_on_kill: cancel the job when a user kills the deferred task (Airflow 3.3+ calls
        :meth:`on_kill`).
    :param stop_states: states that end the wait besides the terminal ones (a sensor waiting for
        ``RUNNING``, say).
    :param progress: the state of a :class:`~airflow_batchstream.progress.ProgressTracker`
        (``to_dict()``): the trigger logs a line when the job's state or task counts change (Airflow 3
        shows trigger logs in the task log), starting from what the task already showed.
    :param shared_poller: join the triggerer's one poll loop for this endpoint, connection,
        project and region (ListJobs for many jobs per call, see
        :mod:`airflow_batchstream.triggers.poller`) instead of one GetJob per look at this job.
    :param wait_through: states that do not end the wait although they usually do, such as
        ``CANCELLATION_IN_PROGRESS`` while waiting for ``CANCELLED``, or every state while waiting for
        a deleted job to be gone (``NOT_FOUND`` always ends it). Needs ``shared_poller=False``: the
        shared poller stops watching a job at its first ending state.
    :param not_before: absolute wall-clock time (epoch seconds) before which no event fires: an event
        that comes sooner is held until then (the task that deferred sets it, against Airflow 3.3's
        resume race: see :data:`airflow_batchstream.deferral.RESUME_HOLD_SECONDS`); ``None``: no hold.
    :param notification_subscription: wait for the job's Pub/Sub state notifications on this
        subscription (``projects/P/subscriptions/S``) instead of polling: one pull loop per
        subscription in the triggerer, one GetJob when a notice says the job ended (see
        :mod:`airflow_batchstream.triggers.push`); ``None`` (default) polls.
    :param safety_poll_interval: with a subscription, read the job this often anyway (seconds), in
        case a notice is lost; a lost subscription falls back to polling at ``poll_interval``.
    """

    def __init__(
        self,
        job_name: str,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        api_version: str = DEFAULT_API_VERSION,
        poll_interval: float = 10.0,
        deadline: float | None = None,
        cancel_on_deadline: bool = True,
        cancel_on_kill: bool = True,
        stop_states: Sequence[str] = (),
        progress: dict[str, Any] | None = None,
        shared_poller: bool = True,
        wait_through: Sequence[str] = (),
        not_before: float | None = None,
        notification_subscription: str | None = None,
        safety_poll_interval: float = 300.0,
    ) -> None:
        super().__init__()
        if wait_through and shared_poller:
            raise ValueError("wait_through= needs shared_poller=False (shared polls end at ending states).")
        self.job_name = job_name
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = (
            impersonation_chain
            if isinstance(impersonation_chain, str) or impersonation_chain is None
            else list(impersonation_chain)
        )
        self.api_version = check_api_version(api_version)
        self.poll_interval = float(poll_interval)
        self.deadline = None if deadline is None else float(deadline)
        self.cancel_on_deadline = cancel_on_deadline
        self.cancel_on_kill = cancel_on_kill
        self.stop_states = sorted(stop_states)
        self.progress = ProgressTracker.from_dict(progress)
        self.shared_poller = shared_poller
        self.wait_through = sorted(wait_through)
        self.not_before = None if not_before is None else float(not_before)
        self.notification_subscription = notification_subscription
        self.safety_poll_interval = float(safety_poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and the plain-JSON keyword arguments that rebuild this trigger."""
        cls = type(self)
        return (
            f"{cls.__module__}.{cls.__qualname__}",
            {
                "job_name": self.job_name,
                "gcp_conn_id": self.gcp_conn_id,
                "impersonation_chain": self.impersonation_chain,
                "api_version": self.api_version,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "cancel_on_deadline": self.cancel_on_deadline,
                "cancel_on_kill": self.cancel_on_kill,
                "stop_states": self.stop_states,
                "progress": self.progress.to_dict(),
                "shared_poller": self.shared_poller,
                "wait_through": self.wait_through,
                "not_before": self.not_before,
                "notification_subscription": self.notification_subscription,
                "safety_poll_interval": self.safety_poll_interval,
            },
        )

    def poller(self) -> JobStatePoller:
        """Return what reads the job's state: the async hook (one shared client per loop and identity)."""
        from airflow_batchstream.hooks.batch import BatchStreamAsyncHook

        return BatchStreamAsyncHook(
            gcp_conn_id=self.gcp_conn_id,
            impersonation_chain=self.impersonation_chain,
            api_version=self.api_version,
        )

    def _log_progress(self, job: Any) -> None:
        """Log a progress line when the job's state or task counts changed since the last one."""
        line = self.progress.update_from_job(job)
        if line:
            self.log.info("%s", line)

    def _remaining(self) -> float | None:
        """Return the seconds left before the deadline (0 once it has passed), or ``None`` without one."""
        return None if self.deadline is None else max(0.0, self.deadline - time.time())

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the job ends, the deadline passes or an API error ends the wait; yield one event.

        The event waits for ``not_before`` if it comes sooner.
        """
        event = await self.wait()
        hold = 0.0 if self.not_before is None else self.not_before - time.time()
        if hold > 0:
            self.log.info(
                "Batch job %s is %s; resuming the task in %.1f s, not sooner after it deferred (README: the "
                "resume race).",
                self.job_name,
                event["state"],
                hold,
            )
            await asyncio.sleep(hold)
        yield TriggerEvent(event)

    async def wait(self) -> dict[str, Any]:
        """Poll until the job ends, the deadline passes or an API error ends the wait; return the event."""
        from google.api_core.exceptions import GoogleAPICallError, NotFound

        poller = self.poller()
        looks = self._push_looks(poller) if self.notification_subscription else await self._poll_looks(poller)
        job = None
        try:
            while True:
                remaining = self._remaining()
                if remaining is not None and remaining <= 0:
                    return await self._expire(poller, job)
                try:
                    job = await asyncio.wait_for(anext(looks), remaining)
                except asyncio.TimeoutError:
                    return await self._expire(poller, job)
                except NotFound:
                    return vanished_event(self.job_name)
                except GoogleAPICallError as error:
                    remaining = self._remaining()
                    if remaining is not None and remaining <= 0:
                        return await self._expire(poller, job)
                    self.log.error("Reading Batch job %s failed: %s", self.job_name, error)
                    return error_event(self.job_name, error)
                event = None if state_name(job) in self.wait_through else ended_event(job, self.stop_states)
                if event is not None:
                    return event
                self._log_progress(job)
        finally:
            await looks.aclose()

    async def _poll_looks(self, poller: JobStatePoller) -> AsyncGenerator[Any, None]:
        """The looks of polling: the loop's shared poller, or this trigger's own GetJob calls.

        :param poller: what reads the job.
        """
        return await self._shared_looks(poller) if self.shared_poller else self._own_looks(poller)

    def _push_looks(self, poller: JobStatePoller) -> AsyncGenerator[Any, None]:
        """Wait on the subscription's notices (one pull loop per subscription), polling if it is lost.

        :param poller: what reads the job (once per notice that it ended).
        """
        from airflow_batchstream.outcome import ENDING_STATES
        from airflow_batchstream.triggers.push import push_looks

        hook = cast("BatchStreamAsyncHook", poller)
        _, conn_id, chain, _ = hook.client_key()
        self.log.info(
            "Waiting for Batch job %s by its notifications on %s (reading it every %g s anyway).",
            self.job_name,
            self.notification_subscription,
            self.safety_poll_interval,
        )
        return push_looks(
            self.job_name,
            cast(str, self.notification_subscription),
            f"{conn_id}|{chain}",
            lambda: self._subscriber_client(hook),
            lambda: poller.get_job(self.job_name, deadline=self._remaining()),
            self.safety_poll_interval,
            frozenset(ENDING_STATES | set(self.stop_states)),
            lambda: self._poll_looks(poller),
        )

    @staticmethod
    async def _subscriber_client(hook: BatchStreamAsyncHook) -> Any:
        """Build a Pub/Sub ``SubscriberAsyncClient`` with the hook's credentials (read off the loop).

        :param hook: the async hook whose connection and impersonation chain sign the pulls.
        """
        from asgiref.sync import sync_to_async

        from airflow_batchstream.notifications import build_subscriber_async_client, pubsub_emulator_host

        if pubsub_emulator_host():
            return build_subscriber_async_client()
        sync_hook = await hook.get_sync_hook()
        return build_subscriber_async_client(await sync_to_async(sync_hook.get_credentials)())

    async def _own_looks(self, poller: JobStatePoller) -> AsyncGenerator[Any, None]:
        """Yield the job read by one GetJob per look: at once, then after each of :func:`poll_delays`.

        :param poller: what reads the job.
        """
        for delay in poll_delays(self.poll_interval):
            yield await poller.get_job(self.job_name, deadline=self._remaining())
            await asyncio.sleep(delay)

    async def _shared_looks(self, poller: JobStatePoller) -> AsyncGenerator[Any, None]:
        """Join the loop's shared poller of this job's endpoint, credentials, project and region.

        :param poller: the async hook, whose client and identity the group shares.
        """
        from airflow_batchstream.triggers.poller import SharedJobPoller

        hook = cast("BatchStreamAsyncHook", poller)
        client = await hook.get_conn()
        endpoint, conn_id, chain, api_version = hook.client_key()
        _, project_id, _, region, _, _ = self.job_name.split("/", 5)
        group = PollGroup(endpoint, f"{conn_id}|{chain}", project_id, region, api_version)
        return SharedJobPoller.for_group(group, lambda: client).watch(self.job_name, self.poll_interval)

    async def _expire(self, poller: JobStatePoller, job: Any) -> dict[str, Any]:
        from google.api_core.exceptions import GoogleAPICallError

        if not self.cancel_on_deadline:
            return timeout_event(self.job_name, job, cancelled=False)
        self.log.warning("Deadline passed: cancelling Batch job %s.", self.job_name)
        try:
            await poller.cancel_job(self.job_name)
        except GoogleAPICallError as error:
            return timeout_event(self.job_name, job, cancelled=False, cancel_error=str(error))
        return timeout_event(self.job_name, job, cancelled=True)

    async def on_kill(self) -> None:
        """Cancel the job when a user kills the deferred task (mark failed, clear, ...)."""
        from google.api_core.exceptions import FailedPrecondition, NotFound

        if not self.cancel_on_kill:
            return
        self.log.info("Task killed: cancelling Batch job %s.", self.job_name)
        try:
            await self.poller().cancel_job(self.job_name)
        except (NotFound, FailedPrecondition) as error:
            self.log.info("Batch job %s needs no cancelling: %s", self.job_name, error.message)
