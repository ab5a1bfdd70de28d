"""Strict argument parsing for operations: every refusal names the offending field."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from execution_agent.errors import bad_request, forbidden

USERNAME_RE = re.compile(r"^[a-z][a-z0-9-]{2,29}$")
ENV_KEY_RE = re.compile(r"^WARREN_[A-Z_]+$")
TAG_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
TAG_KINDS = ("console", "task", "other")
MAX_UID = 2**32 - 2
MAX_ARGV_ITEMS = 512
MAX_ARG_CHARS = 128 * 1024
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255

DEFAULT_MEMORY_BYTES = 3 << 30
DEFAULT_PIDS_MAX = 512
DEFAULT_TMP_BYTES = 1 << 30
# cgroup v1 cpu.shares bounds (the kernel's); v2 maps them onto cpu.weight.
SHARES_MIN = 2
SHARES_MAX = 262144


# A teacher's sandbox binds each student's home: one mount each, bounded so one argv stays
# far below ARG_MAX and the mount namespace's limit.
MAX_EXTRA_HOMES = 2000


@dataclass(frozen=True)
class UserRef:
    uid: int
    username: str

    @property
    def gid(self) -> int:
        return self.uid


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    pids_max: int = DEFAULT_PIDS_MAX
    tmp_bytes: int = DEFAULT_TMP_BYTES
    cpu_shares: int | None = None  # None: leave the cgroup's CPU weight as it is


@dataclass(frozen=True)
class Tag:
    kind: str
    id: str


_MISSING = object()


class Args:
    """The `args` object of a request, read field by field with validation."""

    def __init__(
        self, raw: object, allowed: frozenset[str], uid_base: int, fds: list[int] | None = None
    ) -> None:
        if not isinstance(raw, dict):
            raise bad_request("args: must be an object")
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise bad_request(f"args.{unknown[0]}: unknown argument")
        self.raw = raw
        self.uid_base = uid_base
        # The request's fds (ops registered with fds=); the server closes those not taken.
        self.fds = fds if fds is not None else []

    def take_fd(self) -> int:
        """The request's next fd, now the caller's to close; bad_request if none came."""
        if not self.fds:
            raise bad_request("this operation needs a file descriptor (SCM_RIGHTS)")
        return self.fds.pop(0)

    def has(self, name: str) -> bool:
        return name in self.raw

    def _get(self, name: str, default: object) -> object:
        if name in self.raw:
            return self.raw[name]
        if default is _MISSING:
            raise bad_request(f"args.{name}: required")
        return default

    def _absent(self, name: str, default: object) -> bool:
        """True when the field is missing and has a default (returned without validation)."""
        return name not in self.raw and default is not _MISSING

    def int(self, name: str, *, minimum: int, maximum: int, default: object = _MISSING) -> int:
        if self._absent(name, default):
            return default
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"args.{name}: must be an integer")
        if not minimum <= value <= maximum:
            raise bad_request(f"args.{name}: must be between {minimum} and {maximum}")
        return value

    def number(
        self, name: str, *, minimum: float, maximum: float, default: object = _MISSING
    ) -> float:
        if self._absent(name, default):
            return default
        value = self._get(name, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise bad_request(f"args.{name}: must be a number")
        if not minimum <= value <= maximum:
            raise bad_request(f"args.{name}: must be between {minimum} and {maximum}")
        return float(value)

    def bool(self, name: str, *, default: object = _MISSING) -> bool:
        if self._absent(name, default):
            return default
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise bad_request(f"args.{name}: must be true or false")
        return value

    def str(
        self,
        name: str,
        *,
        pattern: re.Pattern[str] | None = None,
        max_chars: int = 4096,
        default: object = _MISSING,
    ) -> str:
        if self._absent(name, default):
            return default
        value = self._get(name, default)
        if not isinstance(value, str):
            raise bad_request(f"args.{name}: must be a string")
        if "\0" in value or len(value) > max_chars:
            raise bad_request(f"args.{name}: contains NUL or is longer than {max_chars} chars")
        if pattern is not None and not pattern.match(value):
            raise bad_request(f"args.{name}: does not match {pattern.pattern}")
        return value

    def choice(self, name: str, options: tuple[str, ...], *, default: object = _MISSING) -> str:
        if self._absent(name, default):
            return default
        value = self._get(name, default)
        if value not in options:
            raise bad_request(f"args.{name}: must be one of {', '.join(options)}")
        return value

    def user(self) -> UserRef:
        value = self._get("user", _MISSING)
        if not isinstance(value, dict) or set(value) != {"uid", "username"}:
            raise bad_request("args.user: must be an object with exactly uid and username")
        uid, username = value["uid"], value["username"]
        if isinstance(uid, bool) or not isinstance(uid, int) or not 0 <= uid <= MAX_UID:
            raise bad_request("args.user.uid: must be a non-negative integer")
        if uid < self.uid_base:
            raise forbidden(f"args.user.uid: {uid} is below the Warren uid base {self.uid_base}")
        if not isinstance(username, str) or not USERNAME_RE.match(username):
            raise bad_request(f"args.user.username: must match {USERNAME_RE.pattern}")
        return UserRef(uid=uid, username=username)

    def homes(self, name: str = "homes") -> tuple[UserRef, ...]:
        """Other users whose homes to bind beside this user's (a teacher's students)."""
        value = self._get(name, [])
        if not isinstance(value, list) or len(value) > MAX_EXTRA_HOMES:
            raise bad_request(f"args.{name}: must be a list of at most {MAX_EXTRA_HOMES} users")
        refs = []
        for item in value:
            refs.append(Args({"user": item}, frozenset({"user"}), self.uid_base).user())
        return tuple(refs)

    def limits(self) -> Limits:
        value = self._get("limits", {})
        allowed = {"memory_bytes", "pids_max", "tmp_bytes", "cpu_shares"}
        if not isinstance(value, dict) or set(value) - allowed:
            raise bad_request(
                "args.limits: must be an object of memory_bytes, pids_max, tmp_bytes, cpu_shares"
            )
        sub = Args(value, frozenset(allowed), self.uid_base)
        return Limits(
            memory_bytes=sub.int(
                "memory_bytes", minimum=16 << 20, maximum=1 << 40, default=DEFAULT_MEMORY_BYTES
            ),
            pids_max=sub.int("pids_max", minimum=8, maximum=1 << 22, default=DEFAULT_PIDS_MAX),
            tmp_bytes=sub.int(
                "tmp_bytes", minimum=1 << 20, maximum=1 << 40, default=DEFAULT_TMP_BYTES
            ),
            cpu_shares=sub.int("cpu_shares", minimum=SHARES_MIN, maximum=SHARES_MAX, default=None),
        )

    def argv(self, name: str = "argv") -> list[str]:
        value = self._get(name, _MISSING)
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_ARGV_ITEMS:
            raise bad_request(f"args.{name}: must be a non-empty list of strings")
        total = 0
        for index, item in enumerate(value):
            if not isinstance(item, str) or "\0" in item:
                raise bad_request(f"args.{name}[{index}]: must be a string without NUL")
            total += len(item)
        if not value[0] or total > MAX_ARG_CHARS:
            raise bad_request(f"args.{name}: empty program or longer than {MAX_ARG_CHARS} chars")
        return list(value)

    def env(self) -> dict[str, str]:
        value = self._get("env", {})
        if not isinstance(value, dict):
            raise bad_request("args.env: must be an object")
        for key, item in value.items():
            # API_TOKEN: the user's own Warren API token, when they opted in (the Account tab).
            if not (ENV_KEY_RE.match(key) or key in ("TERM", "LANG", "API_TOKEN")):
                raise bad_request(
                    f"args.env.{key}: only WARREN_*, TERM, LANG and API_TOKEN may be set"
                )
            if key.startswith("WARREN_TAG_"):
                raise bad_request(f"args.env.{key}: set by the tag argument, not env")
            if not isinstance(item, str) or "\0" in item or len(item) > 4096:
                raise bad_request(f"args.env.{key}: must be a string without NUL")
        return dict(value)

    def tag(self, *, default: object = _MISSING) -> Tag:
        if self._absent("tag", default):
            return default
        value = self._get("tag", default)
        if isinstance(value, Tag):
            return value
        if not isinstance(value, dict) or set(value) != {"kind", "id"}:
            raise bad_request("args.tag: must be an object with exactly kind and id")
        if value["kind"] not in TAG_KINDS:
            raise bad_request(f"args.tag.kind: must be one of {', '.join(TAG_KINDS)}")
        if not isinstance(value["id"], str) or not TAG_ID_RE.match(value["id"]):
            raise bad_request(f"args.tag.id: must match {TAG_ID_RE.pattern}")
        return Tag(kind=value["kind"], id=value["id"])

    def home_path(self, name: str, *, default: object = _MISSING) -> list[str]:
        """A path relative to the home, as its components ("" is the home itself)."""
        if self._absent(name, default):
            return default
        value = self._get(name, default)
        if not isinstance(value, str):
            raise bad_request(f"args.{name}: must be a string")
        return split_home_path(value, f"args.{name}")


def split_home_path(value: str, field: str) -> list[str]:
    """Split a home-relative path, refusing anything that could leave the home."""
    if "\0" in value:
        raise bad_request(f"{field}: contains a NUL byte")
    encoded = value.encode("utf-8", "surrogateescape")
    if len(encoded) > MAX_PATH_BYTES:
        raise bad_request(f"{field}: longer than {MAX_PATH_BYTES} bytes")
    if value.startswith("/"):
        raise forbidden(f"{field}: must be relative to the home, not absolute")
    parts = [part for part in value.split("/") if part not in ("", ".")]
    for part in parts:
        if part == "..":
            raise forbidden(f"{field}: '..' would leave the home")
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise bad_request(f"{field}: a component is longer than {MAX_NAME_BYTES} bytes")
    return parts
