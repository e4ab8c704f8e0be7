"""OCMF signed meter values: the meter's P-256 key and the `OCMF|{payload}|{signature}` text."""

from __future__ import annotations

import json
import os
import pathlib
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.base import ReadingContext

SIGNATURE_ALGORITHM = "ECDSA-secp256r1-SHA256"
PrivateKey = ec.EllipticCurvePrivateKey


def load_or_create_key(key_path: pathlib.Path | None) -> PrivateKey:
    """The key in `key_path` (PEM, PKCS8); a new one written there (mode 0600) if it is missing."""
    if key_path is None:
        return ec.generate_private_key(ec.SECP256R1())
    if key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"{key_path}: not a P-256 private key")
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    _write_private(key_path, _private_pem(key))
    return key


def public_key_pem(key: PrivateKey) -> str:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")


def ocmf_time(unix_s: float) -> str:
    """`YYYY-MM-DDThh:mm:ss,fff+0000 S` in UTC (S: the meter's clock is synchronised)."""
    moment = datetime.fromtimestamp(unix_s, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S},{moment.microsecond // 1000:03d}+0000 S"


def ocmf_payload(
    *,
    model: str,
    serial: str,
    paging: int,
    token: str | None,
    context: ReadingContext,
    unix_s: float,
    energy_wh: float,
) -> dict[str, Any]:
    reading = {
        "TM": ocmf_time(unix_s),
        "TX": context,
        "RV": round(energy_wh / 1000.0, 4),
        "RI": "1-b:1.8.0",
        "RU": "kWh",
        "ST": "G",
    }
    return {
        "FV": "1.0",
        "GI": model,
        "GS": serial,
        "PG": f"T{paging}",
        "IS": token is not None,
        "IT": "ISO14443" if token is not None else "NONE",
        "ID": token or "",
        "RD": [reading],
    }


def sign_ocmf(key: PrivateKey, payload: dict[str, Any]) -> str:
    """`OCMF|{payload}|{signature}`, the signature over the payload text exactly as written."""
    payload_text = json.dumps(payload, separators=(",", ":"))
    signature = key.sign(payload_text.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    signature_text = json.dumps({"SA": SIGNATURE_ALGORITHM, "SD": signature.hex()}, separators=(",", ":"))
    return f"OCMF|{payload_text}|{signature_text}"


def _private_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: pathlib.Path, data: bytes) -> None:
    """Write a secret file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
