"""The client files a console logs in with: ``~/.my.cnf`` and ``~/.pgpass``, mode 0600.

Written into the user's home through the Files tab's adapter (the execution agent, as the
user), so they are the user's own files; Warren keeps no copy of the password.
"""

from __future__ import annotations

from files.agent import UserFiles
from files.paths import Location
from files.services import close_checked, discard, temporary_name, write_all

PRIVATE = 0o600  # libpq ignores a .pgpass that group or others can read


def my_cnf(*, host: str, port: int, login: str, password: str) -> str:
    # Passwords never hold quotes, backslashes or spaces (services.password_check), so the
    # double quotes (which keep a '#' from starting a comment) need no escaping inside.
    return (
        "# Written by Warren when you set your MySQL password.\n"
        f'[client]\nhost={host}\nport={port}\nuser={login}\npassword="{password}"\n'
    )


def pgpass_line(*, host: str, port: int, login: str, password: str) -> str:
    def escaped(value: str) -> str:
        return value.replace("\\", "\\\\").replace(":", "\\:")

    return f"{escaped(host)}:{port}:*:{escaped(login)}:{escaped(password)}\n"


def private_file_write(*, user, name: str, content: str) -> None:
    """Replace ``~/<name>`` with ``content``, mode 0600, atomically (a new file renamed over)."""
    files = UserFiles(user)
    target = Location(user.username, "home", (name,))
    temporary = target.sibling(temporary_name("dbclient"))
    fd, _ = files.open(temporary, "x", perm=PRIVATE)
    try:
        try:
            write_all(fd, content.encode())
        finally:
            close_checked(fd)
        files.rename(temporary, target, replace=True)
    except BaseException:
        discard(files, temporary)
        raise
