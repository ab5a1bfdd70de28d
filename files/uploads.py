"""Streaming uploads straight into the user's folder, through file descriptors the execution
agent opened as the user.

Each uploaded file is written chunk by chunk to a new, exclusively created file with a
temporary dot-name in the target folder; only when every file of the request arrived whole
and within the limits are they renamed to their real names (``uploads_commit``). Anything
else (a refusal, a broken connection, a failed CSRF check) leaves the temporary files to
``discard()``, so the folder is never left with half a file. Nothing is held in memory
beyond one chunk.

Refusals cannot be raised from here as exceptions (Django's parser would turn them into a
500), so the handler records the AppError and stops the upload with StopUpload.
"""

from __future__ import annotations

import contextlib
import os

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404

from config.errors import AppError
from files.agent import UserFiles
from files.paths import Location, check_name
from files.selectors import StorageUsage
from files.services import (
    StagedUpload,
    close_checked,
    refuse_over_quota,
    temporary_name,
    uploads_discard,
    write_all,
)
from files.units import format_bytes


class AgentUploadHandler(FileUploadHandler):
    """Writes each uploaded file under a temporary name in ``directory``, as the user."""

    chunk_size = 256 * 1024

    def __init__(
        self,
        request,
        *,
        user,
        directory: Location,
        usage: StorageUsage | None,
        max_file_bytes: int,
    ) -> None:
        super().__init__(request)
        self.user = user
        self.files = UserFiles(user)
        self.directory = directory
        self.usage = usage
        self.max_file_bytes = max_file_bytes
        self.problem: AppError | None = None
        self.staged: list[StagedUpload] = []
        self._current: StagedUpload | None = None
        self._fd: int | None = None
        self._total = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # Before a byte is written: the body's length bounds what its files can add.
        try:
            refuse_over_quota(self.usage, content_length or 0, unknown_ok=False)
        except AppError as problem:
            self.problem = problem
        return None  # let Django's parser read the body, calling the methods below

    def new_file(self, field_name, file_name, content_type, content_length, *args, **kwargs):
        super().new_file(field_name, file_name, content_type, content_length, *args, **kwargs)
        self._stop_if_refused()
        self._guard(lambda: self._open(check_name(file_name)))

    def receive_data_chunk(self, raw_data: bytes, start: int):
        upload = self._current
        upload.size += len(raw_data)
        self._total += len(raw_data)
        if upload.size > self.max_file_bytes:
            self._refuse(
                f"{upload.name} is larger than {format_bytes(self.max_file_bytes)}, the most one "
                "file may be. Nothing was uploaded.",
                413,
            )
        # Counted as the bytes arrive too: the body's length was only a bound.
        self._guard(lambda: refuse_over_quota(self.usage, self._total, unknown_ok=False))
        self._guard(lambda: write_all(self._fd, raw_data))
        return None

    def file_complete(self, file_size: int):
        upload, fd = self._current, self._fd
        self._current = self._fd = None
        # A network filesystem may only report a full quota when the file is closed.
        self._guard(lambda: close_checked(fd))
        if upload.size == 0:
            self._refuse(f"{upload.name} is empty: there is nothing to upload.", 400)
        return upload

    def upload_interrupted(self):
        self._close_current()
        self.problem = self.problem or AppError("The upload was interrupted.", status=400)

    def discard(self) -> None:
        """Close what is open and delete every temporary file that was not renamed into place."""
        self._close_current()
        uploads_discard(user=self.user, staged=self.staged)

    # --- internals ---------------------------------------------------------------------------

    def _open(self, name: str) -> None:
        temporary = self.directory.child(temporary_name("upload"))
        self._fd, _ = self.files.open(temporary, "x")
        self._current = StagedUpload(name=name, temporary=temporary)
        self.staged.append(self._current)

    def _guard(self, action) -> None:
        try:
            action()
        except AppError as problem:
            self._refuse(problem.message, problem.status)
        except Http404:
            self._refuse(f"{self.directory.sandbox_path} no longer exists.", 404)

    def _refuse(self, message: str, status: int):
        self.problem = AppError(message, status=status)
        self._close_current()
        raise StopUpload(connection_reset=False)

    def _stop_if_refused(self) -> None:
        if self.problem is not None:
            raise StopUpload(connection_reset=False)

    def _close_current(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        self._current = None
