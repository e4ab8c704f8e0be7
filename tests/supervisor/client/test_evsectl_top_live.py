"""`evsectl top`'s live loop in a pseudo-terminal against a real station: it draws, follows
the station's publications, and quits on `q` (with the terminal given back)."""

from __future__ import annotations

import fcntl
import os
import pathlib
import pty
import re
import struct
import subprocess
import termios
import threading

from tests.supervisor.client.stations import BIN, StationProcess, evsectl

WAIT_S = 15.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


class Terminal:
    """A program on a pseudo-terminal (80 x 24 unless told); what it writes, read from the master side."""

    def __init__(self, argv: list[str], lines: int = 24) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, 80, 0, 0))
        self.saved = termios.tcgetattr(slave)
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": str(lines)}
        env = {k: v for k, v in env.items() if not k.startswith("EVSECTL_")}
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env)
        self.slave = slave  # kept open: its modes are looked at after the program ends
        self._cond = threading.Condition()
        self.screen = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:  # EIO: the program closed the terminal
                data = b""
            with self._cond:
                if not data:
                    self._cond.notify_all()
                    return
                self.screen += ANSI.sub("", data.decode(errors="replace"))
                self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.screen)

    def wait_for(self, text: str, after: int = 0) -> None:
        with self._cond:
            seen = self._cond.wait_for(lambda: text in self.screen[after:], WAIT_S)
            assert seen, f"{text!r} not drawn; the screen since: {self.screen[after:][-2000:]!r}"

    def press(self, key: bytes) -> None:
        os.write(self.master, key)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT_S)
        os.close(self.slave)
        os.close(self.master)
        self._reader.join(WAIT_S)


def test_top_draws_follows_the_station_and_quits_on_q(station: StationProcess) -> None:
    terminal = Terminal([str(BIN / "evsectl"), *station.flags(), "top"])
    try:
        terminal.wait_for("station depot-north")
        terminal.wait_for("CONNECTED")
        terminal.wait_for("DE*TST*E")
        before = terminal.mark()
        assert evsectl(*station.flags(), "call", "2", "sim_fault", "kind=rcd").returncode == 0
        terminal.wait_for("RCD", after=before)  # the board's error, from its publication
        ticking = terminal.mark()
        terminal.wait_for("station depot-north", after=ticking)  # drawn again at the heartbeats
        terminal.press(b"q")
        assert terminal.proc.wait(WAIT_S) == 0
        modes = termios.tcgetattr(terminal.slave)
        assert modes[3] & termios.ICANON and modes[3] & termios.ECHO  # cbreak undone on the way out
        assert modes == terminal.saved
    finally:
        terminal.close()


def _rows_drawn(screen: str, footer: str) -> set[int]:
    """The connectors' rows in the frame that ends with `footer`: their evse_id's number."""
    end = screen.index(footer)
    frame = screen[screen.rindex("station depot-forty", 0, end) : end]
    return {int(n) for n in re.findall(r"DE\*TST\*E(\d{6})", frame)}


def test_top_pages_more_connectors_than_the_terminal_holds(tmp_path: pathlib.Path) -> None:
    station = StationProcess.start(tmp_path / "forty", "depot-forty", connectors=40)
    terminal = Terminal([str(BIN / "evsectl"), *station.flags(), "top"], lines=12)
    try:
        terminal.wait_for("evse 1-4 of 40")  # 12 lines: header, the table's chrome, footer
        assert _rows_drawn(terminal.screen, "evse 1-4 of 40") == {1, 2, 3, 4}
        paged = terminal.mark()
        terminal.press(b"\x1b[6~")  # PgDn
        terminal.wait_for("evse 5-8 of 40", after=paged)
        assert _rows_drawn(terminal.screen[paged:], "evse 5-8 of 40") == {5, 6, 7, 8}
        stepped = terminal.mark()
        terminal.press(b"k")  # one up
        terminal.wait_for("evse 4-7 of 40", after=stepped)
        assert _rows_drawn(terminal.screen[stepped:], "evse 4-7 of 40") == {4, 5, 6, 7}
        jumped = terminal.mark()
        terminal.press(b"/38\r")  # the last page holds 37-40
        terminal.wait_for("evse 37-40 of 40", after=jumped)
        assert _rows_drawn(terminal.screen[jumped:], "evse 37-40 of 40") == {37, 38, 39, 40}
        terminal.press(b"q")
        assert terminal.proc.wait(WAIT_S) == 0
    finally:
        terminal.close()
        station.stop()


def test_top_starts_at_evse_n(tmp_path: pathlib.Path) -> None:
    station = StationProcess.start(tmp_path / "forty", "depot-forty", connectors=40)
    terminal = Terminal([str(BIN / "evsectl"), *station.flags(), "top", "--evse", "20"], lines=12)
    try:
        terminal.wait_for("evse 20-23 of 40")
        assert _rows_drawn(terminal.screen, "evse 20-23 of 40") == {20, 21, 22, 23}
        terminal.press(b"q")
        assert terminal.proc.wait(WAIT_S) == 0
    finally:
        terminal.close()
        station.stop()
