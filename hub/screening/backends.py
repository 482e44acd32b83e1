"""Back-ends that run a function over chunks: in-process, a local process pool, or Ray."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
ProgressCallback = Callable[[int, int | None], None]


class ScreeningCancelled(RuntimeError):
    """Raised by `map_chunks` when the cancel event was set; carries the items done so far."""

    def __init__(self, done: int, total: int | None) -> None:
        super().__init__(f"screening cancelled after {done} of {total or '?'} molecules")
        self.done = done
        self.total = total


class ScreeningBackend(ABC):
    """Runs `fn` over chunks and yields the results in input order.

    `progress_cb(done, total)` is called after each chunk with the number of items (the
    summed lengths of finished chunks). Setting `cancel_event` stops submitting chunks and
    raises `ScreeningCancelled` at the next chunk boundary. Chunks are pulled lazily, so
    inputs larger than memory stream through.
    """

    name: str = "abstract"

    @abstractmethod
    def map_chunks(
        self,
        fn: Callable[[Sequence[T]], R],
        chunks: Iterable[Sequence[T]],
        progress_cb: ProgressCallback | None = None,
        cancel_event: threading.Event | None = None,
        *,
        total: int | None = None,
    ) -> Iterator[R]:
        """Results of `fn(chunk)` for each chunk, in order."""

    @property
    def workers(self) -> int:
        """How many chunks can run at the same time."""
        return 1

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release pools or cluster connections."""

    def __enter__(self) -> ScreeningBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_cancel(cancel_event: threading.Event | None, done: int, total: int | None) -> None:
    if cancel_event is not None and cancel_event.is_set():
        raise ScreeningCancelled(done, total)


class SerialBackend(ScreeningBackend):
    """Runs every chunk in the calling process (small screens, tests, debugging)."""

    name = "serial"

    def map_chunks(
        self,
        fn: Callable[[Sequence[T]], R],
        chunks: Iterable[Sequence[T]],
        progress_cb: ProgressCallback | None = None,
        cancel_event: threading.Event | None = None,
        *,
        total: int | None = None,
    ) -> Iterator[R]:
        """Results of `fn(chunk)` for each chunk, in order."""
        done = 0
        for chunk in chunks:
            _check_cancel(cancel_event, done, total)
            result = fn(chunk)
            done += len(chunk)
            if progress_cb is not None:
                progress_cb(done, total)
            yield result
        _check_cancel(cancel_event, done, total)


class _WindowedBackend(ScreeningBackend):
    """Shared logic: keep a bounded window of submitted chunks, yield in order."""

    def _submit(self, fn: Callable[[Sequence[T]], R], chunk: Sequence[T]) -> Any:
        raise NotImplementedError

    def _result(self, handle: Any) -> Any:
        raise NotImplementedError

    def _cancel(self, handles: Iterable[Any]) -> None:
        raise NotImplementedError

    def map_chunks(
        self,
        fn: Callable[[Sequence[T]], R],
        chunks: Iterable[Sequence[T]],
        progress_cb: ProgressCallback | None = None,
        cancel_event: threading.Event | None = None,
        *,
        total: int | None = None,
    ) -> Iterator[R]:
        """Results of `fn(chunk)` for each chunk, in order."""
        window: deque[tuple[Any, int]] = deque()
        it = iter(chunks)
        done = 0
        limit = 2 * self.workers
        try:
            while True:
                while len(window) < limit:
                    _check_cancel(cancel_event, done, total)
                    chunk = next(it, None)
                    if chunk is None:
                        break
                    window.append((self._submit(fn, chunk), len(chunk)))
                if not window:
                    break
                handle, size = window.popleft()
                result = self._result(handle)
                done += size
                if progress_cb is not None:
                    progress_cb(done, total)
                yield result
                _check_cancel(cancel_event, done, total)
        finally:
            if window:
                self._cancel([h for h, _ in window])


class ProcessPoolBackend(_WindowedBackend):
    """A pool of local worker processes (default: one per core), kept for reuse."""

    name = "process"

    def __init__(self, max_workers: int | None = None, start_method: str | None = None) -> None:
        self.max_workers = max_workers or os.cpu_count() or 1
        self.start_method = start_method or (
            "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        )
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def workers(self) -> int:
        """How many chunks can run at the same time."""
        return self.max_workers

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                ctx = multiprocessing.get_context(self.start_method)
                self._pool = ProcessPoolExecutor(self.max_workers, mp_context=ctx)
            return self._pool

    def _submit(self, fn: Callable[[Sequence[T]], R], chunk: Sequence[T]) -> Future[R]:
        return self._executor().submit(fn, chunk)

    def _result(self, handle: Future[R]) -> R:
        return handle.result()

    def _cancel(self, handles: Iterable[Future[Any]]) -> None:
        for h in handles:
            h.cancel()

    def close(self) -> None:
        """Shut the worker processes down."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None


def _ray_call(fn: Callable[[Sequence[T]], R], chunk: Sequence[T]) -> R:
    return fn(chunk)


class RayBackend(_WindowedBackend):
    """Chunks as Ray tasks, on a cluster (`address`) or a local Ray started on first use."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        max_in_flight: int | None = None,
        **init_kwargs: Any,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.max_in_flight = max_in_flight
        self.init_kwargs = init_kwargs
        self._remote: Any = None
        self._started_here = False

    def _ray(self) -> Any:
        import ray

        from hub.rayinit import init_ray

        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            kwargs.update(self.init_kwargs)
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                init_ray(num_cpus=self.num_cpus, **kwargs)
            self._started_here = True
        if self._remote is None:
            self._remote = ray.remote(_ray_call)
        return ray

    @property
    def workers(self) -> int:
        """How many chunks can run at the same time."""
        if self.max_in_flight:
            return self.max_in_flight
        ray = self._ray()
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def _submit(self, fn: Callable[[Sequence[T]], R], chunk: Sequence[T]) -> Any:
        self._ray()
        return self._remote.remote(fn, chunk)

    def _result(self, handle: Any) -> Any:
        return self._ray().get(handle)

    def _cancel(self, handles: Iterable[Any]) -> None:
        ray = self._ray()
        for h in handles:
            ray.cancel(h)

    def close(self) -> None:
        """Disconnect from (or stop) the Ray runtime this back-end started."""
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False
            self._remote = None


_DEFAULT: ProcessPoolBackend | None = None
_DEFAULT_LOCK = threading.Lock()


def default_backend() -> ProcessPoolBackend:
    """The process-wide shared pool (one worker per core), started on first use."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = ProcessPoolBackend()
            atexit.register(_DEFAULT.close)
        return _DEFAULT


def get_backend(name: str = "process", **opts: Any) -> ScreeningBackend:
    """Back-end by name: "process" (default), "ray" or "serial"."""
    factories: dict[str, Callable[..., ScreeningBackend]] = {
        "process": ProcessPoolBackend,
        "ray": RayBackend,
        "serial": SerialBackend,
    }
    if name not in factories:
        raise ValueError(f"unknown screening back-end {name!r}; choose from {sorted(factories)}")
    return factories[name](**opts)
