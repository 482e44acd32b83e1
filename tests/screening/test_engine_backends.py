"""One contract for every screening back-end: order, progress, cancellation, laziness."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence

import pytest

from hub.screening.backends import (
    ProcessPoolBackend,
    RayBackend,
    ScreeningBackend,
    ScreeningCancelled,
    SerialBackend,
    get_backend,
)
from hub.screening.inputs import InputRecord
from hub.screening.pipeline import ScreenConfig, ScreeningEngine


def square_all(chunk: Sequence[int]) -> list[int]:
    """Module-level so process pools can pickle it."""
    return [x * x for x in chunk]


@pytest.fixture(
    scope="module", params=["serial", "process", pytest.param("ray", marks=pytest.mark.slow)]
)
def backend(request: pytest.FixtureRequest) -> Iterator[ScreeningBackend]:
    if request.param == "serial":
        b: ScreeningBackend = SerialBackend()
        yield b
    elif request.param == "process":
        b = ProcessPoolBackend(max_workers=2)
        yield b
        b.close()
    else:
        pytest.importorskip("ray")
        tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths are limited
        b = RayBackend(num_cpus=2, _temp_dir=tmp)
        yield b
        b.close()
        shutil.rmtree(tmp, ignore_errors=True)


class CountingChunks:
    """Chunks of consecutive integers that record how many were pulled."""

    def __init__(self, n_chunks: int, size: int) -> None:
        self.n_chunks, self.size, self.pulled = n_chunks, size, 0

    def __iter__(self) -> Iterator[list[int]]:
        for k in range(self.n_chunks):
            self.pulled += 1
            yield list(range(k * self.size, (k + 1) * self.size))


def test_results_in_order_with_progress(backend: ScreeningBackend) -> None:
    seen: list[tuple[int, int | None]] = []
    chunks = CountingChunks(12, 5)
    out = list(backend.map_chunks(square_all, chunks, lambda d, t: seen.append((d, t)), total=60))
    assert [x for part in out for x in part] == [x * x for x in range(60)]
    assert [d for d, _ in seen] == list(range(5, 61, 5))
    assert all(t == 60 for _, t in seen)


def test_cancel_stops_between_chunks(backend: ScreeningBackend) -> None:
    cancel = threading.Event()
    chunks = CountingChunks(200, 3)
    done: list[int] = []

    def progress(d: int, t: int | None) -> None:
        done.append(d)
        if d >= 6:
            cancel.set()

    with pytest.raises(ScreeningCancelled) as err:
        list(backend.map_chunks(square_all, chunks, progress, cancel, total=600))
    assert err.value.done == done[-1] < 600
    assert chunks.pulled < 200  # chunks are pulled lazily, so the rest was never even read


def test_already_cancelled_runs_nothing(backend: ScreeningBackend) -> None:
    cancel = threading.Event()
    cancel.set()
    chunks = CountingChunks(10, 2)
    with pytest.raises(ScreeningCancelled) as err:
        list(backend.map_chunks(square_all, chunks, None, cancel))
    assert err.value.done == 0


def test_worker_errors_propagate(backend: ScreeningBackend) -> None:
    with pytest.raises(Exception, match=r"division by zero|ZeroDivisionError"):
        list(backend.map_chunks(divide_by_zero, [[1], [2]]))


def divide_by_zero(chunk: Sequence[int]) -> list[float]:
    """Fails on purpose."""
    return [x / 0 for x in chunk]


def test_engine_gives_same_result_on_every_backend(backend: ScreeningBackend) -> None:
    smiles = [
        "CC(=O)Oc1ccccc1C(=O)O", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "CC(=O)Nc1ccc(O)cc1", "not-a-smiles",
        "O=C1C=CC(=O)C=C1", "Oc1ccccc1O", "CC(=O)Oc1ccccc1C(=O)[O-].[Na+]", "CCN(CC)CC", "c1ccncc1",
    ]  # fmt: skip
    recs = [InputRecord(row=i + 1, id=f"m{i}", structure=s) for i, s in enumerate(smiles)]
    config = ScreenConfig(chunk_size=2, top_n=5)
    reference = ScreeningEngine(config, backend=SerialBackend()).run(recs).to_dict()
    assert ScreeningEngine(config, backend=backend).run(recs).to_dict() == reference


def test_factory() -> None:
    assert isinstance(get_backend("serial"), SerialBackend)
    b = get_backend("process", max_workers=3)
    assert isinstance(b, ProcessPoolBackend) and b.workers == 3
    assert isinstance(get_backend("ray", address="ray://example:10001"), RayBackend)
    with pytest.raises(ValueError, match="unknown screening back-end"):
        get_backend("dask")


def test_engine_picks_serial_for_one_chunk_and_the_shared_pool_otherwise() -> None:
    from hub.screening.backends import default_backend

    engine = ScreeningEngine(ScreenConfig(chunk_size=10))
    assert isinstance(engine._backend_for(10), SerialBackend)
    assert engine._backend_for(11) is default_backend() is engine._backend_for(None)
    assert default_backend().workers >= 1
