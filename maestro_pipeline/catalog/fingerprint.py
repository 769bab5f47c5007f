"""Fingerprints of strategies' source code: part of every study's identity."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

VERSION_LENGTH = 12

# Every built-in strategy is computed by its family's module and these shared building blocks;
# editing any of them may change its signals.
ENGINE_DIR = Path(__file__).resolve().parents[1] / "engine"
BUILTIN_SHARED_FILES = (
    ENGINE_DIR / "indicators.py",
    ENGINE_DIR / "strategies" / "features.py",
)


def source_fingerprint(name: str, sources: Iterable[bytes]) -> str:
    """A short hex digest of a strategy's name and source files (equal code, equal version)."""
    digest = hashlib.sha256(name.encode())
    for source in sources:
        # Line endings are not code: a checkout on another system keeps its version.
        normalized = source.replace(b"\r\n", b"\n")
        digest.update(len(normalized).to_bytes(8, "big"))
        digest.update(normalized)
    return digest.hexdigest()[:VERSION_LENGTH]


def file_fingerprint(name: str, files: Iterable[Path | str]) -> str:
    """``source_fingerprint`` of the files' contents (each file once, in a stable order)."""
    unique = sorted({str(Path(f).resolve()) for f in files})
    return source_fingerprint(name, (Path(f).read_bytes() for f in unique))
