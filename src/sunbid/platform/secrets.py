"""Secrets generated on first run and kept in ``<data_dir>/secrets`` with 0600 permissions.

The files are written atomically (temporary file, fsync, rename) so that a crash never leaves half a key, and
they are never logged or printed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the whole new content."""
    atomic_write_with(path, lambda fh: fh.write(data), mode)


def atomic_write_with(path: Path, write: Callable[[BinaryIO], object], mode: int = 0o600) -> None:
    """Let ``write`` fill a temporary file beside ``path`` (it may stream), then fsync, rename over ``path`` and
    fsync the directory: readers see either the old or the whole new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a file just created, renamed or removed in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SecretStore:
    """Named secrets in a private directory; each is created once, on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _ensure_dir(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)

    def path(self, name: str) -> Path:
        return self.directory / name

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def write(self, name: str, data: bytes) -> None:
        self._ensure_dir()
        atomic_write(self.path(name), data, 0o600)

    def get_or_create(self, name: str, make: Callable[[], bytes]) -> bytes:
        """Return the secret, generating and storing it with ``make`` the first time."""
        p = self.path(name)
        if p.exists():
            return p.read_bytes()
        self._ensure_dir()
        data = make()
        tmp = p.with_name(f".{p.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, p)  # atomic and fails if another process created it first
            except FileExistsError:
                return p.read_bytes()
        finally:
            tmp.unlink(missing_ok=True)
        return data
