"""Synthetic sensor readings with injected faults, for tests of the edge monitoring."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 11, 1, tzinfo=UTC)


def reading(site: str, equipment: str, i: int, values: dict[str, float],
            enterprise: str = "helix-pharma") -> dict[str, Any]:
    units = {"temperature": "Cel", "relative_humidity": "%", "differential_pressure": "Pa",
             "dispensing_accuracy": "%", "vibration": "mm/s"}
    return {
        "reading_id": str(uuid.UUID(int=random.Random(f"{site}{equipment}{i}").getrandbits(128),
                                    version=4)),
        "site_id": site,
        "equipment": {"enterprise": enterprise, "site": site, "area": "granulation",
                      "unit": "line-1", "equipment": equipment},
        "timestamp": (START + timedelta(minutes=5 * i)).isoformat(),
        "measurements": {k: {"value": round(v, 4), "unit": units[k]} for k, v in values.items()},
    }


def series(site: str, n: int, *, equipment: str = "fbd-101", seed: int = 1,
           fault: str | None = None, at: int = 200) -> list[dict[str, Any]]:
    """Normal noise around fixed levels; ``fault`` (spike|stuck|drift) starts at ``at``."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        vib = 2.0 + rng.gauss(0, 0.1)
        temp = 21.0 + rng.gauss(0, 0.2)
        if fault == "spike" and i == at:
            vib = 9.0
        if fault == "drift" and i >= at:
            vib += 0.01 * (i - at)
        if fault == "stuck" and i >= at:
            temp = 21.0  # frozen at the true level: only the flat line gives it away
        out.append(reading(site, equipment, i, {"vibration": max(vib, 0.0),
                                                "temperature": temp}))
    return out
