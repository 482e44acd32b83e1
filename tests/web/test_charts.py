"""Server-side SVG charts: structure, scales, ticks, legend, escaping, accessibility."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.web.charts import PALETTE, Series, bar_chart, fmt, line_chart, nice_ticks, x_axis
from tests.web.test_accessibility import contrast

NS = {"s": "http://www.w3.org/2000/svg"}


def _svg(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own output


def _numbers(root: ET.Element, cls: str) -> list[float]:
    return [float(t.text or "nan") for t in root.iter("{http://www.w3.org/2000/svg}text")
            if t.get("class") == cls]


def _path_points(d: str) -> list[tuple[str, float, float]]:
    return [(c, float(x), float(y)) for c, x, y in re.findall(r"([ML])([\d.]+) ([\d.]+)", d)]


ROUNDS = [
    Series("Basel plant", [0.62, 0.71, 0.78, 0.80, 0.83]),
    Series("Lyon lab", [0.55, 0.69, 0.74, 0.79, 0.81]),
    Series("Cork plant", [0.40, 0.58, 0.66, 0.75, 0.84]),
]


def test_line_chart_is_accessible_svg_with_one_line_per_series() -> None:
    root = _svg(line_chart(ROUNDS, title="Validation AUC per site", x_label="Round",
                           y_label="AUC"))
    assert root.get("role") == "img"
    title_id, desc_id = (root.get("aria-labelledby") or "").split()
    title = root.find(f"s:title[@id='{title_id}']", NS)
    desc = root.find(f"s:desc[@id='{desc_id}']", NS)
    assert title is not None and title.text == "Validation AUC per site"
    assert desc is not None and "3 series" in (desc.text or "")
    assert "Cork plant: latest 0.84, min 0.4, max 0.84" in (desc.text or "")
    groups = root.findall(".//s:g[@class='series']", NS)
    assert [g.get("data-series") for g in groups] == [s.name for s in ROUNDS]
    for g in groups:
        path = g.find("s:path", NS)
        assert path is not None
        assert len(_path_points(path.get("d", ""))) == 5
    # series differ by dash pattern, not only colour
    dashes = {g.find("s:path", NS).get("stroke-dasharray") for g in groups}  # type: ignore[union-attr]
    assert len(dashes) == 3
    legend = [t.text for t in root.findall(".//s:g[@class='legend-item']/s:text", NS)]
    assert legend == [s.name for s in ROUNDS]


def test_line_positions_follow_the_values() -> None:
    root = _svg(line_chart([Series("s", [1.0, 3.0, 2.0])], title="t", width=400, height=300))
    pts = _path_points(root.find(".//s:path", NS).get("d", ""))  # type: ignore[union-attr]
    xs, ys = [p[1] for p in pts], [p[2] for p in pts]
    assert xs == sorted(xs) and len(set(xs)) == 3  # rounds left to right
    assert ys[1] < ys[2] < ys[0]  # SVG y grows downwards: 3.0 is highest on screen
    width = float(root.get("width", "0"))
    assert all(0 < x < width for x in xs)
    yt = _numbers(root, "tick-y")
    assert yt == sorted(yt) and yt[0] <= 1.0 and yt[-1] >= 3.0
    assert _numbers(root, "tick-x") == [1.0, 2.0, 3.0]  # whole rounds only


def test_missing_values_leave_gaps_and_custom_x() -> None:
    root = _svg(line_chart([Series("gappy", [0.5, None, 0.7, 0.9], x=[2, 4, 6, 8])],
                           title="gaps"))
    d = root.find(".//s:path", NS).get("d", "")  # type: ignore[union-attr]
    assert [c for c, _, _ in _path_points(d)] == ["M", "M", "L"]
    xt = _numbers(root, "tick-x")
    assert xt[0] <= 2 and xt[-1] >= 8


def test_text_is_escaped() -> None:
    markup = str(line_chart([Series("<script>alert(1)</script> & Co", [1, 2])],
                            title='AUC "per" <site>', x_label="a<b"))
    assert "<script>" not in markup
    root = _svg(markup)  # still well-formed XML
    assert root.find("s:title", NS).text == 'AUC "per" <site>'  # type: ignore[union-attr]


def test_empty_chart_says_so() -> None:
    root = _svg(line_chart([], title="Nothing yet"))
    assert "No data yet" in [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    root = _svg(bar_chart(["a"], [Series("x", [None])], title="Nothing"))
    assert root.find(".//s:rect[@height]", NS) is not None  # the empty frame


def test_bar_chart_groups_bars_and_handles_negatives() -> None:
    cats = ["Basel", "Lyon", "Cork"]
    root = _svg(bar_chart(cats, [Series("drift", [0.2, -0.3, None]),
                                 Series("alerts", [1.0, 0.5, 0.25])],
                          title="Per-site status", y_label="value"))
    bars = root.findall(".//s:g[@class='series']/s:rect", NS)
    assert len(bars) == 5  # None draws no bar
    assert [t.text for t in root.findall(".//s:text[@class='tick-x']", NS)] == cats
    yt = _numbers(root, "tick-y")
    assert 0.0 in yt and yt[0] <= -0.3 and yt[-1] >= 1.0
    zero_line = [ln for ln in root.findall("s:line", NS)][yt.index(0.0)]
    base = float(zero_line.get("y1", "0"))
    drift = root.findall(".//s:g[@data-series='drift']/s:rect", NS)
    up, down = drift[0], drift[1]
    assert float(up.get("y", "0")) + float(up.get("height", "0")) == pytest.approx(base, abs=0.2)
    assert float(down.get("y", "0")) == pytest.approx(base, abs=0.2)
    tips = [t.text for t in root.findall(".//s:rect/s:title", NS)]
    assert "drift, Lyon: -0.3" in tips


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="values for"):
        bar_chart(["a", "b"], [Series("x", [1.0])], title="bad")
    with pytest.raises(ValueError, match="x values"):
        line_chart([Series("x", [1.0, 2.0], x=[1])], title="bad")


def test_series_colours_are_visible_on_white() -> None:
    for colour in PALETTE:
        assert contrast(colour, "#ffffff") >= 3.0, colour


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_nice_ticks_cover_the_range_evenly(a: float, b: float) -> None:
    ticks = nice_ticks(a, b)
    slack = 1e-9 * (ticks[-1] - ticks[0])  # floating-point precision of the range
    assert ticks[0] <= min(a, b) + slack and ticks[-1] >= max(a, b) - slack
    assert 2 <= len(ticks) <= 12
    steps = [y - x for x, y in itertools.pairwise(ticks)]
    assert max(steps) - min(steps) <= 1e-6 * max(steps)


def test_integer_ticks_and_labels() -> None:
    assert nice_ticks(1, 3, count=3, integer=True) == [1, 2, 3]
    assert all(t.is_integer() for t in nice_ticks(1, 47, integer=True))
    assert [fmt(v) for v in (3.0, 0.8123456, 125000.0, 0.0004)] == ["3", "0.8123", "125000",
                                                                   "0.0004"]


def test_x_axis_starts_where_the_rounds_start() -> None:
    assert x_axis([1, 2, 3, 4, 5], integer=True) == (1, 5, [1.0, 2.0, 3.0, 4.0, 5.0])
    lo, hi, ticks = x_axis([1, 47], integer=True)
    assert (lo, hi) == (1, 47) and all(lo <= t <= hi for t in ticks) and len(ticks) >= 3
    assert all(t.is_integer() for t in ticks)
    lo, hi, ticks = x_axis([0.25, 0.75], integer=False)
    assert ticks[0] >= 0.25 and ticks[-1] <= 0.75
