"""A home with everything a backup can lose, and a manifest to compare two copies of it by."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path


def make_rich_home(root: Path, name: str, uid: int, *, other_uid: int) -> Path:
    """A home with owners, odd modes, POSIX ACLs, xattrs, hard links, symlinks, a FIFO, a
    sparse file and awkward names, owned by ``uid`` except one file of ``other_uid``'s."""
    home = root / name
    for folder in ("project/static", "data", "shared", "empty", "classes/week 1"):
        (home / folder).mkdir(parents=True)
    (home / "README.txt").write_text(f"hello {name}\n")
    (home / "project" / "app.py").write_text("print('hi')\n" * 100)
    (home / "project" / "run.sh").write_text("#!/bin/sh\necho run\n")
    (home / "project" / "static" / "logo.png").write_bytes(os.urandom(8192))
    (home / "data" / "big.bin").write_bytes(os.urandom(300_000))
    os.link(home / "data" / "big.bin", home / "data" / "same.bin")
    os.link(home / "data" / "big.bin", home / "project" / "linked-from-elsewhere.bin")
    with open(home / "data" / "sparse.img", "wb") as sparse:
        sparse.seek(50 * 1024 * 1024)
        sparse.write(b"end")
    (home / "classes" / "week 1" / "naïve — notes\nline two.txt").write_text("unicode\n")
    (home / "latest").symlink_to("project/app.py")
    (home / "dangling").symlink_to("no/such/file")
    (home / "outside").symlink_to("/etc/hostname")
    os.mkfifo(home / "data" / "pipe")
    (home / "shared" / "from-teacher.txt").write_text("a teacher made this\n")
    for path in [home, *home.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)
    os.chown(home / "shared" / "from-teacher.txt", other_uid, other_uid)
    modes = {
        home: 0o700,
        home / "project": 0o750,
        home / "project" / "run.sh": 0o755,
        home / "project" / "app.py": 0o640,
        home / "shared": 0o2770,  # setgid
        home / "data": 0o1777 & 0o1755,  # sticky
        home / "README.txt": 0o600,
    }
    for path, mode in modes.items():
        path.chmod(mode)
    os.setxattr(home / "README.txt", "user.warren.note", b"kept by -X")
    os.setxattr(home / "project", "user.warren.folder", b"\x00binary\xff")
    os.setxattr(home / "data" / "big.bin", "trusted.warren.root-only", b"root's")
    _run(["setfattr", "-n", "user.mime_type", "-v", "text/x-python", str(home / "project/app.py")])
    _run(["setfacl", "-m", f"u:{other_uid}:rwX,d:u:{other_uid}:rwX", str(home / "shared")])
    _run(["setfacl", "-m", f"u:{other_uid}:r", str(home / "project" / "app.py")])
    _run(["setfacl", "-d", "-m", f"g:{other_uid}:rx", str(home / "project")])
    return home


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def manifest(root: Path) -> dict:
    """Everything a restore must give back, per path: type, mode, owner, times, contents,
    link target, every xattr (POSIX ACLs are the system.posix_acl_* ones), and which paths
    share an inode. Two trees are the same copy when their manifests are equal."""
    entries = {}
    inodes: dict[tuple[int, int], list[str]] = {}
    for directory, folders, files in os.walk(root):
        for name in ["", *folders, *files]:
            path = Path(directory) / name if name else Path(directory)
            if name == "" and path != root:
                continue
            relative = str(path.relative_to(root))
            st = path.lstat()
            entries[relative] = _describe(path, st)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                inodes.setdefault((st.st_dev, st.st_ino), []).append(relative)
    entries["hard link groups"] = sorted(sorted(group) for group in inodes.values())
    entries["getfacl"] = _acls(root)
    return entries


def _describe(path: Path, st: os.stat_result) -> dict:
    kind = stat.S_IFMT(st.st_mode)
    described = {
        "type": kind,
        "mode": oct(stat.S_IMODE(st.st_mode)),
        "owner": (st.st_uid, st.st_gid),
        "mtime": int(st.st_mtime),
    }
    if stat.S_ISLNK(st.st_mode):
        described["target"] = os.readlink(path)
        return described
    described["xattrs"] = {
        name: os.getxattr(path, name, follow_symlinks=False)
        for name in sorted(os.listxattr(path, follow_symlinks=False))
    }
    if stat.S_ISREG(st.st_mode):
        described["size"] = st.st_size
        described["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return described


def _acls(root: Path) -> dict[str, str]:
    """getfacl's own reading of every file's ACL (numeric ids), by path."""
    output = subprocess.run(
        ["getfacl", "-R", "-P", "-n", "."], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    blocks = {}
    for block in output.strip().split("\n\n"):
        lines = block.splitlines()
        blocks[lines[0]] = "\n".join(line for line in lines[1:] if not line.startswith("#"))
    return blocks


def differences(expected: dict, got: dict) -> list[str]:
    """What differs, path by path, readably."""
    found = []
    for key in sorted(set(expected) | set(got)):
        if expected.get(key) != got.get(key):
            found.append(f"{key}: {expected.get(key)!r} != {got.get(key)!r}")
    return found
