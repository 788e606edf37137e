"""Run a :class:`~tests.homelab.core.Homelab` in a thread with its own event loop.

Home Assistant's test harness fails a test that leaves tasks in its loop or
threads it started, so the simulator lives in a thread created before the
test (session scope) and is driven through the synchronous methods below.
From inside an event loop, prefer the ``async_*`` variants, which do not
block the caller's loop.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import threading
from typing import TYPE_CHECKING, Any, Self, TypeVar

from .core import Homelab

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

_T = TypeVar("_T")


class HomelabThread:
    """A running homelab plus a synchronous control handle."""

    def __init__(
        self, scenario: str = "reference", *, time_scale: float = 0.02, **kwargs: Any
    ) -> None:
        """Prepare (but do not start) a homelab; kwargs go to :class:`Homelab`."""
        self._args = (scenario, time_scale, kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lab: Homelab | None = None
        self._stopping: asyncio.Event | None = None
        self.ready: dict[str, Any] = {}

    # ---------------------------------------------------------------- life

    def start(self, timeout: float = 60.0) -> Self:
        """Start the thread and the homelab; return once every port is bound."""
        started = threading.Event()
        failure: list[BaseException] = []

        def _main() -> None:
            # A plain selector loop: the installed policy may be Home
            # Assistant's, whose loop forbids replacing the default executor.
            loop = asyncio.SelectorEventLoop()
            # One worker created up front: the simulator never adds threads later.
            executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="homelab-executor"
            )
            loop.set_default_executor(executor)
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(started, failure))
            except BaseException as err:
                failure.append(err)
                started.set()
                raise
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
                executor.shutdown(wait=True)

        self._thread = threading.Thread(target=_main, name="homelab", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise TimeoutError("homelab did not start in time")
        if failure:
            raise RuntimeError("homelab failed to start") from failure[0]
        return self

    async def _serve(
        self, started: threading.Event, failure: list[BaseException]
    ) -> None:
        scenario, time_scale, kwargs = self._args
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: None)  # create the worker now
        self._stopping = asyncio.Event()
        try:
            lab = Homelab(scenario, time_scale=time_scale, **kwargs)
            await lab.start()
        except BaseException as err:
            failure.append(err)
            started.set()
            return
        self._lab = lab
        self.ready = lab.ready_document()
        started.set()
        try:
            await self._stopping.wait()
        finally:
            await lab.stop()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the homelab and join its thread."""
        if (
            self._loop is not None
            and self._stopping is not None
            and self._thread is not None
        ):
            if self._thread.is_alive():
                self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> Self:
        """Start on entering a ``with`` block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving a ``with`` block."""
        self.stop()

    # ------------------------------------------------------------- plumbing

    @property
    def lab(self) -> Homelab:
        """The Homelab itself: touch it only inside :meth:`call` (its own loop)."""
        if self._lab is None:
            raise RuntimeError("homelab not started")
        return self._lab

    def _submit(self, coro: Coroutine[Any, Any, _T]) -> Any:
        if self._loop is None or self._lab is None:
            coro.close()
            raise RuntimeError("homelab not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(
        self,
        coro_fn: Callable[[Homelab], Coroutine[Any, Any, _T]],
        timeout: float = 60.0,
    ) -> _T:
        """Run ``await coro_fn(lab)`` in the homelab's loop and return its result."""
        result: _T = self._submit(coro_fn(self.lab)).result(timeout)
        return result

    def call(self, fn: Callable[[Homelab], _T], timeout: float = 60.0) -> _T:
        """Run ``fn(lab)`` in the homelab's loop and return its result."""

        async def _call(lab: Homelab) -> _T:
            return fn(lab)

        return self.run(_call, timeout)

    async def async_run(
        self, coro_fn: Callable[[Homelab], Coroutine[Any, Any, _T]]
    ) -> _T:
        """Like :meth:`run`, awaitable from another event loop without blocking it."""
        return await asyncio.wrap_future(self._submit(coro_fn(self.lab)))  # type: ignore[no-any-return]

    # ---------------------------------------------------------- the handle

    def nodes(self) -> list[dict[str, Any]]:
        """Return every node as ``GET /nodes`` does."""
        return self.call(lambda lab: [lab.node_summary(n) for n in lab.nodes.values()])

    def state(self, name: str) -> str:
        """Return one node's power state."""
        return self.call(lambda lab: lab.node(name).state)

    def node(self, name: str) -> dict[str, Any]:
        """Return one node's summary (state, transition, health, container_id...)."""
        return self.call(lambda lab: lab.node_summary(lab.node(name)))

    def log(self) -> list[dict[str, Any]]:
        """Return the power commands received, in order."""
        return self.call(lambda lab: [dict(entry) for entry in lab.power_log])

    def commands(self) -> list[dict[str, Any]]:
        """Return every SSH command received, in order."""
        return self.call(lambda lab: [dict(entry) for entry in lab.ssh_commands])

    def requests(self) -> dict[str, Any]:
        """Return the request counters since the last reset."""
        return self.call(lambda lab: lab.requests_summary())

    def reset_requests(self) -> None:
        """Zero the request counters."""
        self.call(lambda lab: lab.clear_requests())

    def set_power(self, name: str, state: str) -> None:
        """Put node ``name`` in ``state`` instantly (on/off, running/stopped)."""
        self.run(lambda lab: lab.set_power(name, state))

    def fault(self, name: str, fault: str, value: Any = True) -> None:
        """Inject a fault (a false/None value clears it)."""
        self.run(lambda lab: lab.set_fault(name, fault, value))

    def recreate(self, name: str) -> str:
        """Give container ``name`` a new ID and return it."""
        return self.call(lambda lab: lab.recreate_container(name))

    def migrate(self, name: str, target: str) -> None:
        """Move guest ``name`` to cluster member ``target`` (``qm migrate``)."""
        self.call(lambda lab: lab.migrate_guest(name, target))

    def grant_token(self, token: str, privileges: list[str]) -> None:
        """Give privilege-separated token ``token`` an ACL on ``/``."""
        self.call(lambda lab: lab.grant_token(token, privileges))

    def set_qdevice(self, enabled: bool) -> None:
        """Add or remove the cluster's QDevice vote."""

        def _set(lab: Homelab) -> None:
            lab.qdevice = enabled

        self.call(_set)

    def reset(self) -> None:
        """All off, faults cleared, log and counters cleared."""
        self.run(lambda lab: lab.reset())

    def wait_state(self, name: str, state: str, timeout: float = 10.0) -> None:
        """Block until node ``name`` is in ``state`` (TimeoutError otherwise)."""
        self.run(lambda lab: lab.wait_state(name, state, timeout), timeout + 5)

    async def async_wait_state(
        self, name: str, state: str, timeout: float = 10.0
    ) -> None:
        """Await (from another loop) until node ``name`` is in ``state``."""
        await self.async_run(lambda lab: lab.wait_state(name, state, timeout))
