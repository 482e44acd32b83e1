"""The hub's application, with each telemetry answer held back a moment after the request was
handled and committed: a kill in that moment leaves committed messages unacknowledged. While
an answer is held, a file named after it exists in ``$HELD_APP_MARKERS`` (if set).

    python -m uvicorn tests.reliability.held_app:create --factory
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

from hub.app import create_app

HOLD_SECONDS = 1.0


def create() -> Any:
    app = create_app()
    markers = Path(os.environ["HELD_APP_MARKERS"]) if "HELD_APP_MARKERS" in os.environ else None

    async def held(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/monitoring/readings":
            await app(scope, receive, send)
            return
        answer: list[Any] = []

        async def keep(message: Any) -> None:
            answer.append(message)

        await app(scope, receive, keep)  # handled and committed
        marker = markers / f"{os.getpid()}-{uuid.uuid4()}" if markers else None
        if marker:
            marker.touch()
        try:
            await asyncio.sleep(HOLD_SECONDS)
        finally:
            if marker:
                marker.unlink(missing_ok=True)
        for message in answer:
            await send(message)

    return held
