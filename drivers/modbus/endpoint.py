"""Where a Modbus device is: Modbus TCP, RTU framing over TCP (an RS-485 gateway), or RTU on a serial port.

tcp://192.168.1.20:502                       Modbus TCP (MBAP header)
rtu+tcp://192.168.1.30:4001                  RTU frames (CRC) through a TCP gateway
rtu:///dev/ttyUSB0?baudrate=19200&parity=E   RTU on a serial port (8 data bits)
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Literal

Framing = Literal["tcp", "rtu"]
PARITIES = ("N", "E", "O")
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
SERIAL_OPTIONS = ("baudrate", "parity", "stopbits")
FORMS = "tcp://HOST:PORT, rtu+tcp://HOST:PORT or rtu:///dev/PORT?baudrate=19200&parity=E&stopbits=1"


@dataclass(frozen=True)
class Endpoint:
    framing: Framing
    host: str = ""  # TCP transports
    port: int = 502
    device: str = ""  # serial transport: the port's path
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1

    @property
    def serial(self) -> bool:
        return bool(self.device)

    def __str__(self) -> str:
        if self.serial:
            return (
                f"rtu://{self.device}?baudrate={self.baudrate}&parity={self.parity}&stopbits={self.stopbits}"
            )
        scheme = "tcp" if self.framing == "tcp" else "rtu+tcp"
        return f"{scheme}://{self.host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """The endpoint a URL names; ValueError saying what is wrong and what is allowed."""
    url = urllib.parse.urlsplit(text)
    if url.scheme in ("tcp", "rtu+tcp"):
        return _tcp(url, "tcp" if url.scheme == "tcp" else "rtu", text)
    if url.scheme == "rtu":
        return _serial(url, text)
    raise ValueError(f"unknown Modbus endpoint {text!r}: must be {FORMS}")


def _tcp(url: urllib.parse.SplitResult, framing: Framing, text: str) -> Endpoint:
    try:
        port = url.port
    except ValueError:
        raise ValueError(f"bad port in {text!r}: must be from 1 to 65535") from None
    if not url.hostname or port is None or not 0 < port <= 65535 or url.path or url.query:
        raise ValueError(f"bad Modbus endpoint {text!r}: must be {FORMS}")
    return Endpoint(framing, host=url.hostname, port=port)


def _serial(url: urllib.parse.SplitResult, text: str) -> Endpoint:
    if url.netloc or not url.path.startswith("/"):
        raise ValueError(f"bad serial endpoint {text!r}: must be rtu:///dev/PORT?baudrate=...")
    options = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    unknown = sorted(set(options) - set(SERIAL_OPTIONS))
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} in {text!r}; allowed: {', '.join(SERIAL_OPTIONS)}")
    baudrate = _option_int(options, "baudrate", 9600, BAUDRATES)
    stopbits = _option_int(options, "stopbits", 1, (1, 2))
    parity = options.get("parity", ["N"])[-1].upper()
    if parity not in PARITIES:
        raise ValueError(f"parity must be one of {', '.join(PARITIES)}, got {parity!r}")
    return Endpoint("rtu", device=url.path, baudrate=baudrate, parity=parity, stopbits=stopbits)


def _option_int(options: dict[str, list[str]], name: str, default: int, allowed: tuple[int, ...]) -> int:
    if name not in options:
        return default
    raw = options[name][-1]
    if not raw.isdigit() or int(raw) not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, got {raw!r}")
    return int(raw)
