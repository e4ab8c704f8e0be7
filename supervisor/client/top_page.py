"""`evsectl top`'s page: which connectors are on screen, and the keys that move it.

    page = Page(indices=[1, 2, ..., 1000], size=20)
    page.visible()      # [1, ..., 20]: only these rows are fetched, kept and drawn
    page.scroll(+20)    # the next page (kept within the list)
    page.jump(500)      # the page that starts at connector 500 (or the next one there is)
    page.footer()       # "evse 1-20 of 1000 · PgDn/PgUp or j/k to scroll, / to jump"

`Keys` turns what the terminal sends (cbreak mode: one read may hold an escape sequence or
several keys) into actions on the page; `/` starts a jump: digits, Enter jumps, Esc cancels.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

CHROME_LINES = 8  # header (2), the table's edges, head and rule (4), footer (1), one spare
HINT = "PgDn/PgUp or j/k to scroll, / to jump, q quits"
ONE_DOWN = (b"j", b"\x1b[B")
ONE_UP = (b"k", b"\x1b[A")
PAGE_DOWN = (b"\x1b[6~", b" ", b"f")
PAGE_UP = (b"\x1b[5~", b"b")
HOME = (b"g", b"\x1b[H", b"\x1b[1~", b"\x1bOH")
END = (b"G", b"\x1b[F", b"\x1b[4~", b"\x1bOF")
QUIT = (b"q", b"Q")
SEQUENCES = sorted((*ONE_DOWN, *ONE_UP, *PAGE_DOWN, *PAGE_UP, *HOME, *END), key=len, reverse=True)


def rows_for(lines: int) -> int:
    """How many connector rows fit a terminal of `lines` lines (at least one)."""
    return max(1, lines - CHROME_LINES)


@dataclass
class Page:
    indices: list[int] = field(default_factory=list)  # every connector's index, ascending
    size: int = 20
    first: int = 0  # position in `indices` of the first row shown

    def visible(self) -> list[int]:
        return self.indices[self.first : self.first + self.size]

    def span(self) -> tuple[int, int] | None:
        """The first and last index shown: the range to ask the station for."""
        shown = self.visible()
        return (shown[0], shown[-1]) if shown else None

    def scroll(self, rows: int) -> None:
        self.first = max(0, min(self.first + rows, len(self.indices) - self.size))

    def jump(self, index: int) -> None:
        """The page that starts at connector `index` (or the next one there is), kept in the list."""
        self.first = 0
        self.scroll(bisect.bisect_left(self.indices, index))

    def resize(self, size: int) -> None:
        self.size = max(1, size)
        self.scroll(0)

    def footer(self, typing: str | None = None) -> str:
        if typing is not None:
            return f"jump to evse: {typing}_  (Enter jumps, Esc cancels)"
        span = self.span()
        shown = f"evse {span[0]}-{span[1]}" if span else "no evse"
        return f"{shown} of {len(self.indices)} · {HINT}"


@dataclass
class Keys:
    """Applies key presses to a page; `typing` is the jump being typed after `/`, if any."""

    page: Page
    typing: str | None = None

    def feed(self, data: bytes) -> bool:
        """Apply what was read; False when it asked to quit."""
        while data:
            if self.typing is not None:
                data = self._type(data)
                continue
            if data[:1] in QUIT:
                return False
            if data[:1] == b"/":
                self.typing, data = "", data[1:]
                continue
            key = next((s for s in SEQUENCES if data.startswith(s)), data[:1])
            self._move(key)
            data = data[len(key) :]
        return True

    def _move(self, key: bytes) -> None:
        size = self.page.size
        steps = {**dict.fromkeys(ONE_DOWN, 1), **dict.fromkeys(ONE_UP, -1)}
        steps.update({**dict.fromkeys(PAGE_DOWN, size), **dict.fromkeys(PAGE_UP, -size)})
        steps.update(
            {**dict.fromkeys(HOME, -len(self.page.indices)), **dict.fromkeys(END, len(self.page.indices))}
        )
        self.page.scroll(steps.get(key, 0))

    def _type(self, data: bytes) -> bytes:
        key, rest = data[:1], data[1:]
        assert self.typing is not None
        if key in (b"\r", b"\n"):
            if self.typing:
                self.page.jump(int(self.typing))
            self.typing = None
        elif key == b"\x1b":
            self.typing, rest = None, b""  # Esc, or an escape sequence: the jump is dropped
        elif key in (b"\x7f", b"\x08"):
            self.typing = self.typing[:-1]
        elif key.isdigit() and len(self.typing) < 6:
            self.typing += key.decode()
        return rest
