"""Quota backends behind one interface: ``ext4`` and ``btrfs`` (the kernel enforces limits) and
``du`` (measured usage, limits only recorded)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class QuotaLimits:
    """A user's storage limits in bytes; 0 means no limit, as it does for setquota."""

    uid: int
    soft_bytes: int
    hard_bytes: int


@dataclass(frozen=True)
class Usage:
    """What a user has used and may use, as reported by one backend."""

    used_bytes: int
    soft_bytes: int
    hard_bytes: int
    backend: str


class QuotaBackendError(Exception):
    """The backend could not do what was asked (its state is unreadable, a tool is missing)."""


class QuotaBackend(Protocol):
    """What the API needs from a backend."""

    name: str

    def set_quota(self, limits: QuotaLimits) -> QuotaLimits:
        """Apply one user's limits; return them as the backend stores them."""

    def set_quotas(self, batch: list[QuotaLimits]) -> int:
        """Apply many users' limits in one go; return how many were applied."""

    def usage(self, uid: int) -> Usage:
        """Return the user's current usage and limits."""

    def check(self) -> dict[str, object]:
        """Return facts for the health endpoint; raise if the backend cannot work."""

    def capacity_bytes(self) -> int:
        """The size of the filesystem the limits apply to (no limit may exceed it)."""

    def create_home_directory(self, root_fd: int, name: str) -> None:
        """Make the (empty, root-owned) directory a new home is assembled in."""

    def home_created(self, uid: int, path: Path) -> None:
        """Called once a new home is in place (btrfs applies a limit recorded before it)."""


def filesystem_size(path: Path | str) -> int:
    """The total size in bytes of the filesystem holding ``path``."""
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize


class PlainDirectoryHomes:
    """Homes are ordinary directories: the du and ext4 backends."""

    def create_home_directory(self, root_fd: int, name: str) -> None:
        """A plain mkdir, private until its owner and mode are set."""
        os.mkdir(name, 0o700, dir_fd=root_fd)

    def home_created(self, uid: int, path: Path) -> None:
        """Nothing to do: the uid's quota does not depend on its home."""
