"""Quota backends behind one interface: ``ext4`` (kernel quotas) and ``du`` (measured usage)."""

from __future__ import annotations

from dataclasses import dataclass
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
