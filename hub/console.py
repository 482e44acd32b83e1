"""Rich consoles for the command lines.

On a terminal, tables fit the window. When output is piped or captured (scripts, ``grep``, CI
logs) there is no window: rich would fall back to 80 columns (or a stale ``COLUMNS``) and fold
ids across lines, so piped output is laid out at least ``PIPE_WIDTH`` columns wide instead.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleDimensions

PIPE_WIDTH = 200


class CliConsole(Console):
    """A console that keeps table rows whole when its output is not a terminal."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kwargs.get("width") is None:
            self._width = None  # rich froze COLUMNS at import; read it when printing instead

    @property
    def size(self) -> ConsoleDimensions:
        dims = Console.size.fget(self)  # type: ignore[attr-defined]
        if self.is_terminal or self._width is not None:
            return dims
        return ConsoleDimensions(max(dims.width, PIPE_WIDTH), dims.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]
