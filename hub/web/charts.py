"""Server-side SVG charts (line and grouped bar): axes, ticks, legend, accessible text.

Charts are plain SVG markup (``Markup``) to drop into a template: no JavaScript, no external
assets, allowed by the hub's CSP. Series are told apart by colour *and* by dash pattern and
marker shape; every chart carries ``<title>``/``<desc>`` (named by ``aria-labelledby``) and
each point a tooltip ``<title>``.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# colours with >= 3:1 contrast on white (WCAG 1.4.11), distinct for common colour blindness
PALETTE = ("#0b57a4", "#b83d00", "#1b7a3d", "#8e3b8e", "#6b5d00", "#00707a", "#5c4a99",
           "#a3214e")
DASHES = ("", "7 4", "2 3", "9 3 2 3", "4 2", "1 3", "12 4", "6 2 2 2")
MARKERS = ("circle", "square", "triangle", "diamond")
TEXT, MUTED, GRID, AXIS = "#1a1a1a", "#4a5560", "#d5dbe1", "#4a5560"
FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"'


@dataclass(frozen=True)
class Series:
    """One named series: ``values`` at ``x`` (default 1, 2, 3 … e.g. federated rounds).

    ``None`` is a missing value (a gap in a line, no bar).
    """

    name: str
    values: Sequence[float | None]
    x: Sequence[float] | None = None

    def points(self) -> list[tuple[float, float | None]]:
        xs = list(self.x) if self.x is not None else list(range(1, len(self.values) + 1))
        if len(xs) != len(self.values):
            raise ValueError(f"series {self.name!r}: {len(xs)} x values for "
                             f"{len(self.values)} values")
        return [(float(x), None if v is None else float(v)) for x, v in zip(xs, self.values,
                                                                              strict=True)]


def nice_ticks(lo: float, hi: float, count: int = 5, integer: bool = False) -> list[float]:
    """Evenly spaced round tick values covering ``[lo, hi]`` (about ``count`` of them)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("tick range must be finite")
    lo, hi = min(lo, hi), max(lo, hi)
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    if integer:
        step = float(max(1, math.ceil(step)))
    start = math.floor(lo / step + 1e-9) * step  # tolerate float noise at exact multiples...
    end = math.ceil(hi / step - 1e-9) * step
    start -= step if start > lo + step * 1e-9 else 0.0  # ...but always cover the data
    end += step if end < hi - step * 1e-9 else 0.0
    n = round((end - start) / step)
    digits = max(0, 3 - math.floor(math.log10(step)))  # drop float noise, keep the step exact
    return [_clean(start + i * step, digits) for i in range(n + 1)]


def _clean(v: float, digits: int) -> float:
    v = round(v, digits)
    return 0.0 if v == 0 else v


def x_axis(xs: Sequence[float], integer: bool) -> tuple[float, float, list[float]]:
    """Domain and ticks of a line chart's x axis: the data's own range (rounds start where
    the data starts), every whole number when there are few, round numbers inside otherwise."""
    lo, hi = min(xs), max(xs)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if integer and hi - lo <= 12 and float(lo).is_integer():
        return lo, hi, [float(v) for v in range(int(lo), int(hi) + 1)]
    ticks = [t for t in nice_ticks(lo, hi, count=8, integer=integer) if lo <= t <= hi]
    return lo, hi, ticks


def fmt(v: float) -> str:
    """Compact number label: integers without decimals, others to 4 significant digits."""
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.3g}"
    return f"{v:.4g}"


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float

    def x(self, v: float, lo: float, hi: float, inset: float = 10.0) -> float:
        return self.left + inset + (v - lo) / (hi - lo) * (self.right - self.left - 2 * inset)

    def y(self, v: float, lo: float, hi: float) -> float:
        return self.bottom - (v - lo) / (hi - lo) * (self.bottom - self.top)


def _legend_rows(names: Sequence[str], width: int) -> list[list[tuple[int, str, float]]]:
    rows: list[list[tuple[int, str, float]]] = [[]]
    cursor = 0.0
    for i, name in enumerate(names):
        w = 34 + 7.0 * min(len(name), 40) + 18
        if rows[-1] and cursor + w > width - 16:
            rows.append([])
            cursor = 0.0
        rows[-1].append((i, name, cursor))
        cursor += w
    return rows


def _marker(kind: str, x: float, y: float, colour: str, tip: str = "") -> str:
    inner = f"<title>{escape(tip)}</title>" if tip else ""
    if kind == "square":
        return (f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" '
                f'fill="{colour}">{inner}</rect>')
    if kind == "triangle":
        pts = f"{x:.1f},{y - 4.5:.1f} {x + 4.5:.1f},{y + 3.5:.1f} {x - 4.5:.1f},{y + 3.5:.1f}"
        return f'<polygon points="{pts}" fill="{colour}">{inner}</polygon>'
    if kind == "diamond":
        pts = f"{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x - 5:.1f},{y:.1f}"
        return f'<polygon points="{pts}" fill="{colour}">{inner}</polygon>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">{inner}</circle>'


def _open(title: str, description: str, width: int, height: int,
          kind: str) -> tuple[str, list[str]]:
    cid = "chart-" + secrets.token_hex(4)
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'style="max-width:100%;height:auto" aria-labelledby="{cid}-title {cid}-desc" {FONT} '
        f'font-size="12">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(description)}</desc>',
        f'<text x="8" y="18" font-size="14" font-weight="600" fill="{TEXT}">{escape(title)}</text>',
    ]
    return cid, head


def _axes(out: list[str], f: _Frame, yticks: list[float], x_label: str, y_label: str) -> None:
    lo, hi = yticks[0], yticks[-1]
    for t in yticks:
        y = f.y(t, lo, hi)
        out.append(f'<line x1="{f.left:.1f}" y1="{y:.1f}" x2="{f.right:.1f}" y2="{y:.1f}" '
                   f'stroke="{GRID}" stroke-width="1"/>')
        out.append(f'<text x="{f.left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" '
                   f'fill="{MUTED}" class="tick-y">{escape(fmt(t))}</text>')
    out.append(f'<line x1="{f.left:.1f}" y1="{f.top:.1f}" x2="{f.left:.1f}" y2="{f.bottom:.1f}" '
               f'stroke="{AXIS}" stroke-width="1"/>')
    out.append(f'<line x1="{f.left:.1f}" y1="{f.bottom:.1f}" x2="{f.right:.1f}" '
               f'y2="{f.bottom:.1f}" stroke="{AXIS}" stroke-width="1"/>')
    if x_label:
        out.append(f'<text x="{(f.left + f.right) / 2:.1f}" y="{f.bottom + 34:.1f}" '
                   f'text-anchor="middle" fill="{TEXT}" class="axis-label">'
                   f'{escape(x_label)}</text>')
    if y_label:
        cy = (f.top + f.bottom) / 2
        out.append(f'<text x="14" y="{cy:.1f}" text-anchor="middle" fill="{TEXT}" '
                   f'transform="rotate(-90 14 {cy:.1f})" class="axis-label">'
                   f'{escape(y_label)}</text>')


def _legend(out: list[str], names: Sequence[str], f: _Frame, line: bool) -> None:
    y0 = f.bottom + 50
    out.append('<g class="legend">')
    for r, row in enumerate(_legend_rows(names, f.width)):
        y = y0 + r * 20
        for i, name, dx in row:
            x = 16 + dx
            colour, dash = PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)]
            out.append('<g class="legend-item">')
            if line:
                dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
                out.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 26:.1f}" y2="{y:.1f}" '
                           f'stroke="{colour}" stroke-width="2.5"{dash_attr}/>')
                out.append(_marker(MARKERS[i % len(MARKERS)], x + 13, y, colour))
            else:
                out.append(f'<rect x="{x + 6:.1f}" y="{y - 6:.1f}" width="14" height="12" '
                           f'fill="{colour}"/>')
            out.append(f'<text x="{x + 32:.1f}" y="{y + 4:.1f}" fill="{TEXT}">'
                       f'{escape(name)}</text></g>')
    out.append("</g>")


def _frame(width: int, height: int, n_names: int, names: Sequence[str]) -> _Frame:
    rows = len(_legend_rows(names, width)) if n_names else 0
    bottom = height - 50 - max(rows - 1, 0) * 20 - (10 if rows else 0)
    return _Frame(width, height, left=64, top=32, right=width - 16, bottom=bottom)


def _summary(kind: str, series: Sequence[Series], span: str) -> str:
    parts = [f"{kind} chart of {len(series)} series{span}."]
    for s in series:
        vals = [v for v in s.values if v is not None]
        if vals:
            parts.append(f"{s.name}: latest {fmt(vals[-1])}, min {fmt(min(vals))}, "
                         f"max {fmt(max(vals))}.")
        else:
            parts.append(f"{s.name}: no values.")
    return " ".join(parts)


def _svg(parts: list[str]) -> Markup:
    """Join chart parts; every piece of caller text in them went through ``escape``."""
    return Markup("".join(parts))  # noqa: S704


def _empty(out: list[str], f: _Frame) -> Markup:
    out.append(f'<rect x="{f.left}" y="{f.top}" width="{f.right - f.left}" '
               f'height="{f.bottom - f.top}" fill="none" stroke="{GRID}"/>')
    out.append(f'<text x="{(f.left + f.right) / 2:.1f}" y="{(f.top + f.bottom) / 2:.1f}" '
               f'text-anchor="middle" fill="{MUTED}">No data yet</text></svg>')
    return _svg(out)


def line_chart(series: Sequence[Series], *, title: str, description: str | None = None,
               x_label: str = "", y_label: str = "", width: int = 640, height: int = 320,
               y_range: tuple[float, float] | None = None, integer_x: bool = True) -> Markup:
    """A line chart of one or more series (e.g. a metric per site over federated rounds)."""
    pts = [s.points() for s in series]
    known = [(x, y) for p in pts for x, y in p if y is not None]
    xs = [x for x, _ in known]
    span = f" from {fmt(min(xs))} to {fmt(max(xs))}" if xs else ""
    desc = description or _summary("Line", series, span + (f" ({x_label})" if x_label else ""))
    _, out = _open(title, desc, width, height, "line")
    f = _frame(width, height, len(series), [s.name for s in series])
    if not known:
        return _empty(out, f)
    ys = [y for _, y in known if y is not None]
    ylo, yhi = y_range if y_range else (min(ys), max(ys))
    yt = nice_ticks(ylo, yhi)
    xlo, xhi, xt = x_axis(xs, integer_x)
    _axes(out, f, yt, x_label, y_label)
    for t in xt:
        x = f.x(t, xlo, xhi)
        out.append(f'<line x1="{x:.1f}" y1="{f.bottom:.1f}" x2="{x:.1f}" y2="{f.bottom + 5:.1f}" '
                   f'stroke="{AXIS}"/><text x="{x:.1f}" y="{f.bottom + 18:.1f}" '
                   f'text-anchor="middle" fill="{MUTED}" class="tick-x">{escape(fmt(t))}</text>')
    for i, (s, p) in enumerate(zip(series, pts, strict=True)):
        colour, dash = PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)]
        d, pen_down, marks = [], False, []
        for x, y in p:
            if y is None:
                pen_down = False
                continue
            px, py = f.x(x, xlo, xhi), f.y(y, yt[0], yt[-1])
            d.append(f"{'L' if pen_down else 'M'}{px:.1f} {py:.1f}")
            pen_down = True
            tip = f"{s.name}: {fmt(y)} at {x_label or 'x'} {fmt(x)}"
            marks.append(_marker(MARKERS[i % len(MARKERS)], px, py, colour, tip))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<g class="series" data-series="{escape(s.name)}">')
        if d:
            out.append(f'<path d="{" ".join(d)}" fill="none" stroke="{colour}" '
                       f'stroke-width="2.5" stroke-linejoin="round"{dash_attr}/>')
        out.extend(marks)
        out.append("</g>")
    _legend(out, [s.name for s in series], f, line=True)
    out.append("</svg>")
    return _svg(out)


def bar_chart(categories: Sequence[str], series: Sequence[Series], *, title: str,
              description: str | None = None, x_label: str = "", y_label: str = "",
              width: int = 640, height: int = 320) -> Markup:
    """Grouped bars: one group per category, one bar per series (values align to categories)."""
    for s in series:
        if len(s.values) != len(categories):
            raise ValueError(f"series {s.name!r}: {len(s.values)} values for "
                             f"{len(categories)} categories")
    span = f" over {len(categories)} categories"
    desc = description or _summary("Bar", series, span)
    _, out = _open(title, desc, width, height, "bar")
    f = _frame(width, height, len(series), [s.name for s in series])
    ys = [v for s in series for v in s.values if v is not None]
    if not ys:
        return _empty(out, f)
    yt = nice_ticks(min(0.0, *ys), max(0.0, *ys))
    _axes(out, f, yt, x_label, y_label)
    lo, hi = yt[0], yt[-1]
    group = (f.right - f.left) / len(categories)
    bar_w = group * 0.8 / max(len(series), 1)
    base = f.y(0.0, lo, hi)
    for c, cat in enumerate(categories):
        gx = f.left + c * group
        out.append(f'<text x="{gx + group / 2:.1f}" y="{f.bottom + 18:.1f}" text-anchor="middle" '
                   f'fill="{MUTED}" class="tick-x">{escape(cat)}</text>')
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<g class="series" data-series="{escape(s.name)}">')
        for c, v in enumerate(s.values):
            if v is None:
                continue
            x = f.left + c * group + group * 0.1 + i * bar_w
            y = f.y(float(v), lo, hi)
            top, h = min(y, base), abs(base - y)
            tip = f"{s.name}, {categories[c]}: {fmt(float(v))}"
            out.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar_w * 0.92:.1f}" '
                       f'height="{h:.1f}" fill="{colour}"><title>{escape(tip)}</title></rect>')
        out.append("</g>")
    _legend(out, [s.name for s in series], f, line=False)
    out.append("</svg>")
    return _svg(out)
