"""Starting Ray on a busy machine.

Ray gives its raylet a fixed 30 s to come up; on a loaded host (a screening and a federated
simulation side by side) it can miss that window and ``ray.init`` raises "The current node
timed out during startup". Starting again after a pause succeeds, so every part of the hub that
starts a local Ray runtime goes through :func:`init_ray`.
"""

from __future__ import annotations

import time
from typing import Any


def init_ray(attempts: int = 4, pause_s: float = 10.0, **init_kwargs: Any) -> None:
    """``ray.init(**init_kwargs)``, retried up to ``attempts`` times with growing pauses."""
    import ray

    for attempt in range(1, attempts + 1):
        try:
            ray.init(**init_kwargs)
            return
        except Exception:
            ray.shutdown()
            if attempt == attempts:
                raise
            time.sleep(pause_s * attempt)
