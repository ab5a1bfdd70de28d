"""The one exception operations raise to answer `ok: false` with a code from the protocol."""

from __future__ import annotations

import errno as errno_module


class OpError(Exception):
    """An operation's refusal or failure, sent to the client as {code, message[, errno]}."""

    def __init__(self, code: str, message: str, *, errno: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errno = errno

    def to_wire(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.errno is not None:
            error["errno"] = errno_module.errorcode.get(self.errno, str(self.errno))
        return error


def bad_request(message: str) -> OpError:
    return OpError("bad_request", message)


def forbidden(message: str) -> OpError:
    return OpError("forbidden", message)


def not_found(message: str) -> OpError:
    return OpError("not_found", message)


_ERRNO_CODES = {
    errno_module.ENOENT: "not_found",
    errno_module.ENOTDIR: "not_found",
    errno_module.EXDEV: "forbidden",
    errno_module.ELOOP: "forbidden",
    errno_module.EACCES: "forbidden",
    errno_module.EPERM: "forbidden",
    errno_module.EROFS: "forbidden",
    errno_module.ENOSPC: "limit",
    errno_module.EDQUOT: "limit",
    errno_module.EMFILE: "limit",
    errno_module.ENAMETOOLONG: "bad_request",
    errno_module.EINVAL: "bad_request",
    errno_module.EISDIR: "bad_request",
}


def from_os_error(exc: OSError, what: str) -> OpError:
    """Map an OSError met while acting on `what` to a protocol error code."""
    code = _ERRNO_CODES.get(exc.errno, "failed")
    reason = exc.strerror or str(exc)
    return OpError(code, f"{what}: {reason}", errno=exc.errno)
