"""One poll loop per Batch region for every job a triggerer process watches there.

The Google provider's trigger asks ``GetJob`` once per job per poll interval, so a region's fixed
read quota (15,000 requests a minute, https://cloud.google.com/batch/quotas) caps it near 2,500
watched jobs at a 10 s interval. Here every watcher of the same endpoint, credentials, project,
region and API version in one event loop joins one :class:`SharedJobPoller`. Each round it lists
the *active* jobs carrying our ``managed-by`` label, one ``status.state`` at a time, in pages
(``ListJobs`` filters on ``labels.KEY`` and ``status.state``, joined with ``AND``:
https://cloud.google.com/batch/docs/view-jobs-tasks#filter-jobs; OR-ing states is not relied on).
A watched job missing from every active list has ended, vanished, or moved between two lists
during the round. When several have, the ended states' lists are read newest first
(``order_by="create_time desc"``, one of the four values documented at
https://cloud.google.com/batch/docs/reference/rest/v1/projects.locations.jobs/list), stopping at the oldest
missing job or when paging would cost more than asking for each; whatever is still missing gets
one ``GetJob``. Either way a terminal result always comes from the job itself.

Guarantees: a watcher gets each state change at most once and its final state exactly once; a
watcher that leaves (cancelled, finished) never delays the others; the loop ends when the last
watcher leaves, and a watcher that arrives later (e.g. a trigger re-created after a triggerer
restart) starts or joins the group's loop again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_batchstream.loop_cache import PerLoop
from airflow_batchstream.outcome import ENDING_STATES, NOT_FOUND
from airflow_batchstream.polling import effective_poll_interval

log = logging.getLogger(__name__)

#: States that end a wait (the trigger's ending states); everything else is listed as active.
DONE_STATES = ENDING_STATES - {NOT_FOUND}
#: Active states, in lifecycle order: a job moving on during a round shows up in a later list.
ACTIVE_STATES = ("QUEUED", "SCHEDULED", "RUNNING")
#: Ended states whose lists confirm many ended jobs in a few calls, most common first.
LISTED_DONE_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
#: Page size asked of ListJobs; the service may return fewer per page.
LIST_PAGE_SIZE = 1000
#: At most this many fallback GetJob calls are in flight at once.
MAX_CONCURRENT_GETS = 32
#: How many recent rounds' lengths the next round's early start allows for.
RECENT_ROUNDS = 5
#: Timeout of one RPC of the poll loop, in seconds.
RPC_TIMEOUT = 30.0


@dataclass(frozen=True)
class PollGroup:
    """What makes watchers share one poll loop (besides the event loop they run in).

    :param endpoint: the API endpoint, e.g. ``batch.googleapis.com`` or the emulator's ``host:port``.
    :param credentials: an identity of the credentials, e.g. connection id and impersonation chain.
    :param project_id: the jobs' project.
    :param region: the jobs' region.
    :param api_version: ``"v1alpha"`` or ``"v1"``.
    :param label_filter: the ListJobs term selecting the jobs this provider manages.
    """

    endpoint: str
    credentials: str
    project_id: str
    region: str
    api_version: str
    label_filter: str = 'labels.managed-by="airflow-batchstream"'

    @property
    def parent(self) -> str:
        """``projects/P/locations/R``, the ListJobs parent."""
        return f"projects/{self.project_id}/locations/{self.region}"


@dataclass(eq=False)
class _Watch:
    job_name: str
    poll_interval: float
    queue: asyncio.Queue[tuple[Any, BaseException | None]] = field(default_factory=asyncio.Queue)
    last_state: str | None = None
    done: bool = False


@dataclass
class PollStats:
    """Counters of one poller, for benchmarks and logs.

    :param rounds: poll rounds completed.
    :param list_calls: ListJobs pages requested.
    :param get_calls: fallback GetJob calls made.
    :param ended_list_calls: those of the ListJobs pages that were of an ended state's list.
    :param listed_ends: ended jobs confirmed by an ended state's list instead of a GetJob.
    :param busiest_listing: the most ListJobs pages one round asked for (the per-interval cost;
        GetJob is paid about once per job, when it ends).
    """

    rounds: int = 0
    list_calls: int = 0
    get_calls: int = 0
    ended_list_calls: int = 0
    listed_ends: int = 0
    busiest_listing: int = 0


class SharedJobPoller:
    """The poll loop of one :class:`PollGroup` in one event loop; get it with :meth:`for_group`.

    :param group: the endpoint, credentials, project and region it polls.
    :param client: a ``BatchServiceAsyncClient`` of the group's API version, owned by the poller.
    """

    _registry: PerLoop[dict[PollGroup, SharedJobPoller]] = PerLoop(dict)

    def __init__(self, group: PollGroup, client: Any) -> None:
        self.group = group
        self.client = client
        self.stats = PollStats()
        self._watches: dict[str, set[_Watch]] = {}
        self._created: dict[str, Any] = {}  # watched job name -> its create_time, once seen
        self._list_done = True  # False once the service refused an ended state's listing
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @classmethod
    def for_group(cls, group: PollGroup, client_factory: Callable[[], Any]) -> SharedJobPoller:
        """Return the running loop's poller of ``group``, creating it (and its client) if needed.

        :param group: the endpoint, credentials, project and region to poll.
        :param client_factory: builds the async client; called only when a new poller is made.
        """
        pollers = cls._registry.get()
        poller = pollers.get(group)
        if poller is None:
            poller = pollers[group] = cls(group, client_factory())
        return poller

    # ------------------------------------------------------------------ watchers

    async def watch(self, job_name: str, poll_interval: float) -> AsyncGenerator[Any, None]:
        """Yield the job each time its state changes; the last one yielded is in :data:`DONE_STATES`.

        Leaving early (``break``, cancellation, ``aclose()``) unsubscribes at once.

        :param job_name: ``projects/P/locations/R/jobs/ID`` in this poller's project and region.
        :param poll_interval: the longest time, in seconds, a change of the job's state may go
            unnoticed (at most ``BATCHSTREAM_MAX_POLL_INTERVAL`` when set); the group polls at the
            shortest interval among its watchers, each round started early by the longest of the
            recent rounds.
        :raises google.api_core.exceptions.NotFound: the job vanished (deleted under the watcher).
        :raises google.api_core.exceptions.GoogleAPICallError: a permanent error reading the job.
        """
        if not job_name.startswith(self.group.parent + "/jobs/"):
            raise ValueError(f"{job_name!r} is not a job of {self.group.parent}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, not {poll_interval!r}")
        watch = _Watch(job_name, effective_poll_interval(poll_interval))
        self._watches.setdefault(job_name, set()).add(watch)
        self._ensure_running()
        try:
            while True:
                job, error = await watch.queue.get()
                if error is not None:
                    raise error
                yield job
                if watch.done:
                    return
        finally:
            self._leave(watch)

    async def wait(self, job_name: str, poll_interval: float) -> Any:
        """Return the job once it reaches a state in :data:`DONE_STATES`.

        :param job_name: ``projects/P/locations/R/jobs/ID`` in this poller's project and region.
        :param poll_interval: the longest time, in seconds, a change of the job's state may go unnoticed.
        """
        last = None
        async for job in self.watch(job_name, poll_interval):
            last = job
        return last

    @property
    def watched(self) -> int:
        """How many watchers are subscribed now."""
        return sum(len(watches) for watches in self._watches.values())

    def _leave(self, watch: _Watch) -> None:
        watches = self._watches.get(watch.job_name)
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del self._watches[watch.job_name]
                self._created.pop(watch.job_name, None)
        if not self._watches:
            self._wake.set()  # let an idle loop notice it has no one left and end

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"batchstream-poller-{self.group.parent}"
            )

    # ---------------------------------------------------------------- the loop

    async def _run(self) -> None:
        try:
            await asyncio.sleep(0)  # let the triggers started in the same batch subscribe first
            lengths: collections.deque[float] = collections.deque(maxlen=RECENT_ROUNDS)
            while self._watches:
                started = time.monotonic()
                pages = self.stats.list_calls
                await self._round()
                await asyncio.sleep(0)  # the watchers take what the round handed them
                self.stats.rounds += 1
                self.stats.busiest_listing = max(self.stats.busiest_listing, self.stats.list_calls - pages)
                lengths.append(time.monotonic() - started)
                interval = min((w.poll_interval for ws in self._watches.values() for w in ws), default=0.0)
                # The next round starts early by the longest recent round, so that a change is
                # handed over within one interval of happening however long listing takes (but
                # rounds never start more often than every half interval).
                deadline = started + max(interval - max(lengths), interval / 2)
                while self._watches and (remaining := deadline - time.monotonic()) > 0:
                    self._wake.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), remaining)
        except BaseException as exc:
            # Cancelled or broken with watchers left: none of them may wait forever.
            error = exc if isinstance(exc, Exception) else RuntimeError(f"the poller of {self.group} stopped")
            for watches in list(self._watches.values()):
                for watch in watches:
                    watch.done = True
                    watch.queue.put_nowait((None, error))
            raise

    async def _round(self) -> None:
        names = set(self._watches)
        seen = await self._list_active(names)
        if seen is None:  # listing is not possible (permission, filter): ask for each job
            unseen = names
        else:
            for name, job in seen.items():
                self._deliver(name, job, None)
            unseen = names - seen.keys()
            ended = await self._list_ended(unseen)
            for name, job in ended.items():
                self._deliver(name, job, None)
            unseen -= ended.keys()
        if unseen:
            gate = asyncio.Semaphore(MAX_CONCURRENT_GETS)
            await asyncio.gather(*(self._get(name, gate) for name in unseen))

    async def _list_active(self, names: set[str]) -> dict[str, Any] | None:
        """Map each watched job seen in an active state's list to its Job; ``None`` if listing fails."""
        from google.api_core import exceptions

        from airflow_batchstream.retry import transient_async_retrying

        seen: dict[str, Any] = {}
        for state in ACTIVE_STATES:
            try:
                await transient_async_retrying(RPC_TIMEOUT * 2)(self._list_state, state, names, seen)
            except exceptions.GoogleAPICallError as exc:
                log.warning("Listing jobs of %s failed (%s); asking for each job instead.", self.group, exc)
                return None
        return seen

    async def _pages(self, state: str, order_by: str = "") -> AsyncGenerator[Any, None]:
        """Yield the pages of our jobs in ``state``, counting each page's call.

        :param state: the ``status.state`` to filter on.
        :param order_by: ``""`` (the service's order) or e.g. ``"create_time desc"``.
        """
        request = {
            "parent": self.group.parent,
            "filter": f'{self.group.label_filter} AND status.state="{state}"',
            "page_size": LIST_PAGE_SIZE,
        }
        if order_by:
            request["order_by"] = order_by
        pager = await self.client.list_jobs(request=request, retry=None, timeout=RPC_TIMEOUT)
        async for page in pager.pages:
            self.stats.list_calls += 1
            yield page

    async def _list_state(self, state: str, names: set[str], seen: dict[str, Any]) -> None:
        async for page in self._pages(state):
            for job in page.jobs:
                if job.name in names:
                    seen[job.name] = job
                    if job.name not in self._created:
                        self._created[job.name] = job.create_time

    async def _list_ended(self, unseen: set[str]) -> dict[str, Any]:
        """Find watched jobs that left the active lists in the ended states' lists, newest first.

        Only jobs whose creation time is known are looked for. A state's list is read only while
        more jobs are missing than there are states left to read, and no more pages are read in
        all than jobs were looked for, so a round never pays more than twice the GetJob calls.

        :param unseen: watched jobs that no active list held this round.
        """
        from google.api_core import exceptions

        from airflow_batchstream.retry import is_transient, transient_async_retrying

        missing = {name: self._created[name] for name in unseen if self._created.get(name) is not None}
        found: dict[str, Any] = {}
        page_limit = self.stats.ended_list_calls + len(missing)
        for index, state in enumerate(LISTED_DONE_STATES):
            if not self._list_done or len(missing) <= len(LISTED_DONE_STATES) - index:
                break
            try:
                await transient_async_retrying(RPC_TIMEOUT * 2)(
                    self._list_ended_state, state, missing, found, page_limit
                )
            except exceptions.GoogleAPICallError as exc:
                log.warning("Listing %s jobs of %s failed (%s); asking for each job.", state, self.group, exc)
                self._list_done = is_transient(exc)  # a refusal (e.g. of order_by) is not asked again
                break
        self.stats.listed_ends += len(found)
        return found

    async def _list_ended_state(
        self, state: str, missing: dict[str, Any], found: dict[str, Any], page_limit: int
    ) -> None:
        """Page through one ended state's list, newest first, moving jobs from ``missing`` to ``found``.

        Stops at the page that reaches past the oldest missing job's creation, or when
        :attr:`PollStats.ended_list_calls` reaches ``page_limit``.

        :param state: the ended state whose list is read.
        :param missing: job name -> create time of the jobs still looked for.
        :param found: job name -> Job of the jobs found so far.
        :param page_limit: the value of ``ended_list_calls`` at which reading stops.
        """
        if not missing or self.stats.ended_list_calls >= page_limit:
            return  # (a retry after the pages already read found them all, or spent the budget)
        oldest = min(missing.values())
        async with contextlib.aclosing(self._pages(state, order_by="create_time desc")) as newest_first:
            async for page in newest_first:
                self.stats.ended_list_calls += 1
                for job in page.jobs:
                    if missing.pop(job.name, None) is not None:
                        found[job.name] = job
                past_oldest = not page.jobs or page.jobs[-1].create_time < oldest
                if not missing or past_oldest or self.stats.ended_list_calls >= page_limit:
                    return

    async def _get(self, name: str, gate: asyncio.Semaphore) -> None:
        from google.api_core import exceptions

        from airflow_batchstream.retry import is_transient

        if name not in self._watches:
            return
        async with gate:
            self.stats.get_calls += 1
            try:
                job = await self.client.get_job(name=name, retry=None, timeout=RPC_TIMEOUT)
            except exceptions.GoogleAPICallError as exc:
                if is_transient(exc):
                    log.warning("GetJob %s failed (%s); trying again next round.", name, exc)
                    return
                self._deliver(name, None, exc)
                return
        self._deliver(name, job, None)

    def _deliver(self, name: str, job: Any, error: BaseException | None) -> None:
        """Hand a job (or the error about it) to its watchers: changes only, a final one once."""
        for watch in list(self._watches.get(name, ())):
            if watch.done:
                continue
            if error is not None:
                watch.done = True
                watch.queue.put_nowait((None, error))
                continue
            state = job.status.state.name
            if state in DONE_STATES:
                watch.done = True
            elif state == watch.last_state:
                continue
            watch.last_state = state
            watch.queue.put_nowait((job, None))
