"""A bounded pool of painters: at most `painters` pictures painted at once, at most `queue` waiting.

Admission happens before the upload is read, so a full server costs a refused client nothing but
its request line. A job that times out is cancelled (ONNX Runtime stops the run) and keeps its slot
until its thread has really stopped, so memory stays bounded even when clients give up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from faststyle.runtime import Cancelled, CancelToken


class Busy(Exception):
    """Every painter is busy and the queue is full: try again later."""


class TimedOut(Exception):
    """The job waited and ran longer than the server's time limit."""


class PainterPool:
    def __init__(self, painters: int, queue: int, timeout_s: float):
        self.capacity = painters + queue
        self.timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(max_workers=painters, thread_name_prefix="painter")
        self._lock = threading.Lock()
        self._admitted = 0
        self.painted = 0  # jobs finished, for /healthz

    @property
    def admitted(self) -> int:
        return self._admitted

    def admit(self) -> "Ticket":
        """A place in the pool, or Busy at once."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise Busy()
            self._admitted += 1
        return Ticket(self)

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class Ticket:
    """One admitted request. `run` paints on a painter thread; `close` gives the place back if the
    request ends before running (a bad upload). Both are safe to call once each."""

    def __init__(self, pool: PainterPool):
        self._pool, self._held = pool, True
        self._deadline = time.monotonic() + pool.timeout_s

    def close(self) -> None:
        if self._held:
            self._held = False
            self._pool._release()

    async def run(self, job: Callable[[CancelToken], bytes]) -> bytes:
        """Runs job(cancel) on a painter; raises TimedOut past the deadline (waiting included)."""
        cancel = CancelToken()
        self._held = False  # from here the painter thread gives the place back when it really ends

        def work() -> bytes:
            try:
                if time.monotonic() > self._deadline:  # waited in the queue past the limit: skip
                    raise Cancelled()
                result = job(cancel)
                self._pool.painted += 1
                return result
            finally:
                self._pool._release()

        future = asyncio.get_running_loop().run_in_executor(self._pool._executor, work)
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # read, even when nobody waits
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(0.0, self._deadline - time.monotonic()))
        except (asyncio.TimeoutError, Cancelled):
            cancel.cancel()
            raise TimedOut() from None
        except asyncio.CancelledError:  # the client went away: stop painting for nobody
            cancel.cancel()
            raise
