"""The screen job runner: one thread per running screen in the hub process.

Each thread runs a `ScreenJob` on the engine's back-end (the shared process pool, so
concurrent screens share the cores) and writes through sessions of its own. On start the
runner fails screens a previous hub process left `running` (their partial results stay
readable; resubmit to screen again) and starts screens still `queued` (their input is on disk).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlmodel import select

from hub.audit import service as audit
from hub.config import Settings
from hub.db import Database
from hub.screening import service
from hub.screening.backends import ScreeningBackend
from hub.screening.jobs import RUNNER, ScreenJob
from hub.screening.models import Screen, ScreenStatus
from hub.screening.predictors import Predictor

log = logging.getLogger("fedhub.screening")


class ScreenRunner:
    """Starts, cancels and tracks screen threads."""

    def __init__(self, db: Database, settings: Settings,
                 backend: ScreeningBackend | None = None,
                 predictors: list[Predictor] | None = None) -> None:
        self.db, self.settings = db, settings
        self.backend = backend  # None: the engine's shared process pool
        self.predictors = predictors  # None: production models from the registry
        self._threads: dict[str, threading.Thread] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.recovered = False

    def recover(self) -> tuple[int, int]:
        """Fail screens left running by a previous process; start queued ones."""
        with self.db.session() as session:
            audit.set_actor(session, RUNNER)
            stale = session.exec(select(Screen).where(Screen.status == ScreenStatus.running)).all()
            for screen in stale:
                service.set_status(session, screen, ScreenStatus.failed,
                                   "the hub restarted while this screen ran; partial results "
                                   f"({screen.done} of {screen.total}) are kept, resubmit to "
                                   "screen again")
            queued = [s.id for s in session.exec(
                select(Screen).where(Screen.status == ScreenStatus.queued))]
            session.commit()
        self.recovered = True
        if stale:
            log.warning("%d screen(s) were left running by a previous hub process: failed",
                        len(stale))
        for sid in queued:
            self.submit(sid)
        return len(stale), len(queued)

    def submit(self, screen_id: str) -> None:
        """Start the screen's thread (after the creating transaction committed)."""
        with self._lock:
            if screen_id in self._threads:
                return
            ev = self._cancel[screen_id] = threading.Event()
            t = threading.Thread(target=self._run, args=(screen_id, ev), daemon=True,
                                 name=f"fedhub-screen-{screen_id[:8]}")
            self._threads[screen_id] = t
        t.start()

    def _run(self, screen_id: str, ev: threading.Event) -> None:
        try:
            ScreenJob(self.db, self.settings, screen_id, ev, self.backend,
                      self.predictors).run()
        except Exception:
            log.exception("screen job %s crashed", screen_id)
        finally:
            with self._lock:
                self._threads.pop(screen_id, None)
                self._cancel.pop(screen_id, None)

    def cancel(self, screen_id: str) -> bool:
        """Tell a running screen to stop at its next chunk; whether it was running here."""
        ev = self._cancel.get(screen_id)
        if ev is not None:
            ev.set()
        return ev is not None

    def running(self) -> list[str]:
        """Ids of the screens running in this process."""
        with self._lock:
            return list(self._threads)

    def wait(self, screen_id: str, timeout: float | None = None) -> bool:
        """Join a screen's thread; whether it has finished."""
        t = self._threads.get(screen_id)
        if t is not None:
            t.join(timeout)
            return not t.is_alive()
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every running screen and wait for the threads."""
        for ev in list(self._cancel.values()):
            ev.set()
        for t in list(self._threads.values()):
            t.join(timeout)


def get_runner(app: Any) -> ScreenRunner:
    """The app's runner, created (and recovered) on first use."""
    runner: ScreenRunner | None = getattr(app.state, "screen_runner", None)
    if runner is None:
        runner = ScreenRunner(app.state.db, app.state.settings)
        app.state.screen_runner = runner
    if not runner.recovered:
        runner.recovered = True
        try:
            runner.recover()
        except Exception:
            log.exception("could not recover interrupted screens")
    return runner
