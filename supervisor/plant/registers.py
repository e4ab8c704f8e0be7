"""The simulated meters' energy registers, kept as a real meter keeps them: in non-volatile memory.

    registers = Registers.open(state_dir / "plant-registers.sqlite3")
    start_wh = registers.energy_wh("DE*PNX*E1*1")      # 0 for a meter never seen
    registers.note("DE*PNX*E1*1", 1234.5)              # a value about to be reported
    registers.commit()                                  # before the replies that carry it

A value is reported only after a register at least that high is on disk (`synchronous=FULL`),
so the register never goes backwards across a kill of the plant or a power cut. One commit
covers every value a batch of requests reports.
"""

from __future__ import annotations

import pathlib
import sqlite3


class RegistersError(Exception):
    """The registers file cannot be read or written; the message names it."""


class Registers:
    def __init__(self, db: sqlite3.Connection, path: pathlib.Path) -> None:
        self._db = db
        self.path = path
        self._saved: dict[str, float] = dict(db.execute("SELECT meter, energy_wh FROM registers").fetchall())
        self._noted: dict[str, float] = {}

    @classmethod
    def open(cls, path: pathlib.Path) -> Registers:
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS registers (meter TEXT PRIMARY KEY, energy_wh REAL NOT NULL)"
            )
            return cls(db, path)
        except sqlite3.DatabaseError as exc:
            raise RegistersError(
                f"the meter registers {path} cannot be read ({exc}); move the file away"
            ) from None

    def energy_wh(self, meter: str) -> float:
        return self._saved.get(meter, 0.0)

    def note(self, meter: str, energy_wh: float) -> None:
        """A value about to be reported: it must be on disk before it is."""
        if energy_wh > max(self._saved.get(meter, 0.0), self._noted.get(meter, 0.0)):
            self._noted[meter] = energy_wh

    def commit(self) -> None:
        """Write every noted value in one transaction; RegistersError when the disk refuses."""
        if not self._noted:
            return
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT INTO registers (meter, energy_wh) VALUES (?, ?)"
                    " ON CONFLICT (meter) DO UPDATE SET energy_wh = excluded.energy_wh",
                    list(self._noted.items()),
                )
        except sqlite3.Error as exc:
            raise RegistersError(f"cannot write the meter registers {self.path}: {exc}") from None
        self._saved.update(self._noted)
        self._noted.clear()

    def close(self) -> None:
        self._db.close()
