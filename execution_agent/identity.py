"""A user's host paths and generated account files (no useradd on execution servers)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from execution_agent.config import Config
from execution_agent.errors import forbidden
from execution_agent.validation import UserRef


def home_of(config: Config, user: UserRef) -> Path:
    return config.homes_root / user.username


def www_of(config: Config, user: UserRef) -> Path:
    return config.www_root / user.username


def check_home(config: Config, user: UserRef, owner_uid: int) -> Path:
    """The user's host home, refused unless it is a real directory owned by owner_uid."""
    home = home_of(config, user)
    try:
        st = os.lstat(home)
    except FileNotFoundError:
        raise forbidden(f"home {home} does not exist") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != owner_uid:
        raise forbidden(f"home {home} is not a directory owned by uid {owner_uid}")
    return home


def www_dir_if_owned(config: Config, user: UserRef, owner_uid: int) -> Path | None:
    path = www_of(config, user)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode) and st.st_uid == owner_uid:
        return path
    return None


def passwd_text(user: UserRef, uid: int) -> str:
    return (
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"{user.username}:x:{uid}:{uid}:{user.username}:/home/{user.username}:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )


def group_text(user: UserRef, uid: int) -> str:
    return f"root:x:0:\n{user.username}:x:{uid}:\nnogroup:x:65534:\n"


def write_if_changed(path: Path, text: str) -> None:
    """Atomically replace path with text unless it already holds exactly that."""
    try:
        if path.read_text() == text:
            return
    except FileNotFoundError:
        pass
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
