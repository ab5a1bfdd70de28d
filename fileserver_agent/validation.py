"""Parsing of request input: anything malformed becomes an ApiError with the reason."""

from __future__ import annotations

import json
import re
from typing import Any

from fileserver_agent.errors import ApiError
from fileserver_agent.identities import MAX_ID, USERNAME_RE
from fileserver_agent.quota import QuotaLimits

# setquota takes KiB in a 64-bit field; an exbibyte is far above any disk and far below that.
MAX_BYTES = 2**60


def bad_request(detail: str) -> ApiError:
    """A 400 with ``detail`` as the reason."""
    return ApiError(400, "bad_request", detail)


def parse_json_body(body: bytes) -> Any:
    """Decode a JSON request body strictly (no NaN or Infinity)."""
    if not body:
        raise bad_request("the request body must be JSON")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad_request(f"the request body is not valid JSON ({exc})") from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def parse_username(raw: str) -> str:
    """Accept only names that are valid Unix user names and DNS labels."""
    if not USERNAME_RE.match(raw):
        raise bad_request(
            "username must be 3-30 characters of lowercase letters, digits and hyphens, "
            "starting with a letter"
        )
    return raw


def parse_uid_segment(raw: str, *, min_uid: int) -> int:
    """Parse a uid taken from the URL path."""
    if not raw.isascii() or not raw.isdigit():
        raise bad_request(f"uid must be a non-negative whole number, not {raw[:40]!r}")
    return _check_id("uid", int(raw), min_uid=min_uid)


def parse_id_value(name: str, value: object, *, min_uid: int) -> int:
    """Parse a uid or gid taken from a JSON body."""
    if not _is_integer(value):
        raise bad_request(f"{name} must be a whole number")
    return _check_id(name, value, min_uid=min_uid)


def _check_id(name: str, value: int, *, min_uid: int) -> int:
    if value < min_uid:
        raise bad_request(f"{name} {value} is below the agent's minimum of {min_uid}")
    if value > MAX_ID:
        raise bad_request(f"{name} {value} is above the largest valid id {MAX_ID}")
    return value


def _is_integer(value: object) -> bool:
    # bool is a subclass of int; true/false are not ids or byte counts.
    return isinstance(value, int) and not isinstance(value, bool)


def parse_home_body(data: object, *, min_uid: int) -> tuple[int, int]:
    """Return (uid, gid) from ``{"uid": …, "gid": …}``."""
    fields = _object_with_fields(data, required={"uid", "gid"}, where="the body")
    uid = parse_id_value("uid", fields["uid"], min_uid=min_uid)
    gid = parse_id_value("gid", fields["gid"], min_uid=min_uid)
    return uid, gid


def parse_acl_body(data: object, *, min_uid: int) -> int:
    """Return the home owner's uid from ``{"uid": …}``."""
    fields = _object_with_fields(data, required={"uid"}, where="the body")
    return parse_id_value("uid", fields["uid"], min_uid=min_uid)


def parse_quota_body(uid: int, data: object) -> QuotaLimits:
    """Return the limits in ``{"soft_bytes": …, "hard_bytes": …}`` for ``uid``."""
    fields = _object_with_fields(data, required={"soft_bytes", "hard_bytes"}, where="the body")
    return _limits(uid, fields, where="")


def parse_quota_batch(data: object, *, min_uid: int) -> list[QuotaLimits]:
    """Return every entry of ``[{"uid", "soft_bytes", "hard_bytes"}, …]``, or refuse them all."""
    if not isinstance(data, list):
        raise bad_request("the body must be a JSON list of {uid, soft_bytes, hard_bytes}")
    batch: list[QuotaLimits] = []
    seen: set[int] = set()
    for index, entry in enumerate(data):
        where = f"entry {index}"
        fields = _object_with_fields(
            entry, required={"uid", "soft_bytes", "hard_bytes"}, where=where
        )
        try:
            uid = parse_id_value("uid", fields["uid"], min_uid=min_uid)
        except ApiError as exc:
            raise bad_request(f"{where}: {exc.detail}") from None
        if uid in seen:
            raise bad_request(f"{where}: uid {uid} appears more than once")
        seen.add(uid)
        batch.append(_limits(uid, fields, where=f"{where}: "))
    return batch


def refuse_beyond_capacity(batch: list[QuotaLimits], capacity_bytes: int) -> None:
    """Refuse a hard limit larger than the filesystem: the disk would fill first, for everyone."""
    for index, limits in enumerate(batch):
        if limits.hard_bytes > capacity_bytes:
            where = f"entry {index}: " if len(batch) > 1 else ""
            raise bad_request(
                f"{where}hard_bytes ({limits.hard_bytes}) is larger than the filesystem "
                f"holding the homes ({capacity_bytes} bytes)"
            )


def _object_with_fields(data: object, *, required: set[str], where: str) -> dict:
    if not isinstance(data, dict):
        raise bad_request(f"{where} must be a JSON object with {', '.join(sorted(required))}")
    missing = sorted(required - data.keys())
    if missing:
        raise bad_request(f"{where} is missing {', '.join(missing)}")
    unknown = sorted(data.keys() - required)
    if unknown:
        raise bad_request(f"{where} has unknown fields: {', '.join(unknown)}")
    return data


def _limits(uid: int, fields: dict, *, where: str) -> QuotaLimits:
    soft = _byte_count("soft_bytes", fields["soft_bytes"], where)
    hard = _byte_count("hard_bytes", fields["hard_bytes"], where)
    # 0 means "no limit", as it does for setquota, so only two real limits can conflict.
    if hard and soft > hard:
        raise bad_request(f"{where}soft_bytes ({soft}) is above hard_bytes ({hard})")
    return QuotaLimits(uid=uid, soft_bytes=soft, hard_bytes=hard)


def _byte_count(name: str, value: object, where: str) -> int:
    if not _is_integer(value):
        raise bad_request(f"{where}{name} must be a whole number of bytes")
    if value < 0:
        raise bad_request(f"{where}{name} must not be negative")
    if value > MAX_BYTES:
        raise bad_request(f"{where}{name} is larger than {MAX_BYTES}")
    return value


MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def parse_relative_path(name: str, value: object) -> list[str]:
    """A path beneath a home, as components: no "..", no empty or "." parts, no NUL."""
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string")
    encoded = value.encode("utf-8", "surrogateescape")
    if "\0" in value or len(encoded) > MAX_PATH_BYTES:
        raise bad_request(f"{name} is not a valid path")
    parts = [part for part in value.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise bad_request(f"{name} may not contain '..'")
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in parts):
        raise bad_request(f"{name} has a name longer than {MAX_NAME_BYTES} bytes")
    return parts


def parse_snapshot_body(data: object, *, min_uid: int, target: bool) -> tuple[int, list, list]:
    """(uid, path, target) from ``{"uid", "path"[, "target"]}`` (target [] when not asked)."""
    fields = {"uid", "path", "target"} if target else {"uid", "path"}
    body = _object_with_fields(data, required=fields, where="the body")
    uid = parse_id_value("uid", body["uid"], min_uid=min_uid)
    path = parse_relative_path("path", body["path"])
    return uid, path, parse_relative_path("target", body["target"]) if target else []


_DAEMON_RE = re.compile(r"^rsync://[A-Za-z0-9.-]+(:[0-9]{1,5})?/[A-Za-z0-9._/-]+$")


def parse_destination(name: str, value: object) -> str:
    """An absolute path or an rsync daemon URL: where another server's root is reached."""
    is_path = isinstance(value, str) and value.startswith("/") and "\0" not in value
    if not isinstance(value, str) or not (is_path or _DAEMON_RE.match(value)):
        raise bad_request(f"{name} must be an absolute path or rsync://host/module")
    if ".." in value.split("/"):
        raise bad_request(f"{name} may not contain '..'")
    return value.rstrip("/")


def parse_sync_body(data: object, *, min_uid: int) -> tuple[int, str, str]:
    """(uid, homes destination, www destination) from ``{"uid", "homes", "www"}``."""
    body = _object_with_fields(data, required={"uid", "homes", "www"}, where="the body")
    uid = parse_id_value("uid", body["uid"], min_uid=min_uid)
    return uid, parse_destination("homes", body["homes"]), parse_destination("www", body["www"])
