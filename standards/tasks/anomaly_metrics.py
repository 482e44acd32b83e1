"""Event-level alarm metrics against labelled faults: precision, recall, detection delay."""

from __future__ import annotations

import numpy as np


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True values in a 1-D mask."""
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def alarm_episodes(alarms: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Alarm runs merged when fewer than `gap` quiet readings separate them."""
    merged: list[tuple[int, int]] = []
    for s, e in _runs(alarms):
        if merged and s - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def alarm_metrics(
    alarms: np.ndarray, fault: np.ndarray, grace: int, interval_s: int = 300
) -> dict[str, float]:
    """Metrics for alarms (equipment, time) vs ground-truth fault labels (equipment, time).

    A fault counts as detected if an alarm fires in [start, end + grace); an alarm episode
    is true if it overlaps such a span. Delay is readings from fault start to first alarm.
    Counts are returned too, so several sites' results pool exactly.
    """
    faults = detected = episodes = true_eps = 0
    delay_sum = 0.0
    for e in range(alarms.shape[0]):
        spans = [(s, min(t + grace, alarms.shape[1])) for s, t in _runs(fault[e] > 0)]
        for s, t in spans:
            faults += 1
            hits = np.flatnonzero(alarms[e, s:t])
            if len(hits):
                detected += 1
                delay_sum += float(hits[0])
        for s, t in alarm_episodes(alarms[e], grace):
            episodes += 1
            true_eps += any(s < b and a < t for a, b in spans)
    days = alarms.shape[1] * interval_s / 86400
    return {
        "faults": float(faults),
        "detected": float(detected),
        "episodes": float(episodes),
        "true_episodes": float(true_eps),
        "delay_sum": delay_sum,
        "days": days,
        "recall": detected / faults if faults else 1.0,
        "precision": true_eps / episodes if episodes else 1.0,
        "delay": delay_sum / detected if detected else 0.0,
        "false_alarms_per_day": (episodes - true_eps) / days if days else 0.0,
    }
