"""The ``btrfs`` backend: each home a subvolume whose qgroup the kernel limits.

Per-directory limits are what the seed used XFS project quotas for; btrfs gives them with
qgroups, and this kernel enforces them on a loop-mounted image (ext4 quotas it cannot
mount). A home is created as a subvolume (so it gets its own qgroup, ``0/<subvolume id>``),
its qgroup's referenced-bytes limit is the hard limit, and usage is read from the qgroup's
counters in sysfs: exact, and no scan however many files the home holds.

The same three steps the command-line tools take, as ioctls on the home's directory, so the
nightly batch of ten thousand limits costs ten thousand syscalls rather than processes:

* ``btrfs subvolume create``  — BTRFS_IOC_SUBVOL_CREATE on the homes root
* ``btrfs qgroup limit SIZE PATH`` — BTRFS_IOC_QGROUP_LIMIT (qgroup 0: the fd's subvolume)
* ``btrfs qgroup show --raw`` — /sys/fs/btrfs/<fsid>/qgroups/0_<id>/{referenced,max_referenced}

btrfs has no soft limit: the soft figure is recorded in the same log the du backend keeps
and reported beside the kernel's hard limit. A limit for a uid without a home yet is
recorded and applied when its home is created.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
import struct
import uuid
from pathlib import Path

from fileserver_agent.config import ConfigError
from fileserver_agent.errors import ApiError
from fileserver_agent.quota import QuotaBackendError, QuotaLimits, Usage, filesystem_size
from fileserver_agent.quota.du import DuQuotaBackend, HomeLocator, LimitsLog

logger = logging.getLogger(__name__)

# From linux/btrfs.h: _IOW/_IOR/_IOWR(BTRFS_IOCTL_MAGIC 0x94, nr, struct).
BTRFS_IOC_SUBVOL_CREATE = 0x5000940E  # _IOW(14, struct btrfs_ioctl_vol_args: 4096 bytes)
BTRFS_IOC_INO_LOOKUP = 0xD0009412  # _IOWR(18, struct btrfs_ioctl_ino_lookup_args: 4096)
BTRFS_IOC_FS_INFO = 0x8400941F  # _IOR(31, struct btrfs_ioctl_fs_info_args: 1024)
BTRFS_IOC_QGROUP_LIMIT = 0x8030942B  # _IOR(43, struct btrfs_ioctl_qgroup_limit_args: 48)
BTRFS_QGROUP_LIMIT_MAX_RFER = 1
# The kernel's CLEAR_VALUE: "no limit" (btrfs qgroup limit none sends the same).
NO_LIMIT = 2**64 - 1
# A subvolume's root directory always has this inode number (BTRFS_FIRST_FREE_OBJECTID).
SUBVOLUME_ROOT_INODE = 256
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

CONVERSION_HINT = "convert it to a subvolume first (fileserver_agent/README.md, 'btrfs backend')"


def subvolume_create(dir_fd: int, name: str) -> None:
    """Create subvolume ``name`` in the directory ``dir_fd`` (``btrfs subvolume create``)."""
    encoded = name.encode()
    if len(encoded) > 255 or b"/" in encoded:
        raise ValueError(f"bad subvolume name {name!r}")
    args = bytearray(4096)
    args[8 : 8 + len(encoded)] = encoded  # struct btrfs_ioctl_vol_args {__s64 fd; char name[]}
    fcntl.ioctl(dir_fd, BTRFS_IOC_SUBVOL_CREATE, args)


def subvolume_id(fd: int) -> int:
    """The id of the subvolume holding ``fd`` (INO_LOOKUP of the root inode with treeid 0)."""
    args = bytearray(4096)
    struct.pack_into("=QQ", args, 0, 0, SUBVOLUME_ROOT_INODE)
    fcntl.ioctl(fd, BTRFS_IOC_INO_LOOKUP, args)
    return struct.unpack_from("=Q", args, 0)[0]


def filesystem_uuid(fd: int) -> str:
    """The filesystem's UUID, which names its directory in /sys/fs/btrfs."""
    args = bytearray(1024)  # struct btrfs_ioctl_fs_info_args: max_id, num_devices, fsid[16]…
    fcntl.ioctl(fd, BTRFS_IOC_FS_INFO, args)
    return str(uuid.UUID(bytes=bytes(args[16:32])))


def qgroup_limit(fd: int, max_referenced: int) -> None:
    """Limit the referenced bytes of ``fd``'s subvolume (``btrfs qgroup limit SIZE PATH``)."""
    limit = max_referenced or NO_LIMIT
    # struct btrfs_ioctl_qgroup_limit_args {qgroupid; {flags, max_rfer, max_excl, rsv_rfer,
    # rsv_excl}}; qgroupid 0 means "the subvolume the fd is in".
    args = bytearray(struct.pack("=6Q", 0, BTRFS_QGROUP_LIMIT_MAX_RFER, limit, 0, 0, 0))
    fcntl.ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, args)


class BtrfsQuotaBackend:
    """Homes as subvolumes, hard limits as qgroup limits, usage from the qgroup counters."""

    name = "btrfs"

    def __init__(
        self, *, homes_root: Path, www_root: Path, state_dir: Path, rescan_seconds: float
    ) -> None:
        self.homes_root = homes_root
        self.www_root = www_root
        self.limits = LimitsLog(state_dir / "limits.log")
        self.locator = HomeLocator(homes_root, homes_root)
        # The web directory is a plain directory, usually on another filesystem: it is
        # measured as the du backend does, so usage shows it, but the kernel does not limit it
        # (only this backend's measuring is used: its limits log is read, never written).
        self.www_usage = DuQuotaBackend(
            homes_root=homes_root,
            www_root=www_root,
            state_dir=state_dir,
            rescan_seconds=rescan_seconds,
        )
        root_fd = os.open(homes_root, _DIR_FLAGS)
        try:
            self.fsid = filesystem_uuid(root_fd)
        except OSError as exc:
            if exc.errno in (errno.ENOTTY, errno.EINVAL, errno.EOPNOTSUPP):
                raise ConfigError(
                    f"WARREN_HOMES_ROOT={homes_root}: not on a btrfs filesystem "
                    "(the btrfs backend needs the homes root on btrfs)"
                ) from None
            raise ConfigError(f"WARREN_HOMES_ROOT={homes_root}: {exc.strerror}") from None
        finally:
            os.close(root_fd)
        self.qgroups_dir = Path("/sys/fs/btrfs") / self.fsid / "qgroups"
        if not self.qgroups_dir.is_dir():
            raise ConfigError(
                f"WARREN_HOMES_ROOT={homes_root}: btrfs quotas are not enabled there "
                f"(run: btrfs quota enable {homes_root})"
            )

    # --- homes ----------------------------------------------------------------------------

    def create_home_directory(self, root_fd: int, name: str) -> None:
        """Make a new home a subvolume, so it has a qgroup of its own."""
        subvolume_create(root_fd, name)

    def home_created(self, uid: int, path: Path) -> None:
        """Apply the limit recorded before the home existed."""
        _soft, hard = self.limits.read(uid)
        if hard:
            self._limit_path(path, hard)

    # --- limits ---------------------------------------------------------------------------

    def set_quota(self, limits: QuotaLimits) -> QuotaLimits:
        """Limit the home's qgroup to the hard limit, and record both limits."""
        homes = self._subvolume_homes(limits.uid)
        for home in homes:
            self._limit_path(home, limits.hard_bytes)
        self.limits.write([limits])
        return limits

    def set_quotas(self, batch: list[QuotaLimits]) -> int:
        """Apply a batch; a home that is not a subvolume is skipped (logged), not fatal."""
        applied, skipped = [], []
        homes_by_uid = self.locator.all_homes()
        for limits in batch:
            try:
                homes = self._subvolume_homes(limits.uid, homes_by_uid.get(limits.uid, []))
            except ApiError:
                skipped.append(limits.uid)
                continue
            for home in homes:
                self._limit_path(home, limits.hard_bytes)
            applied.append(limits)
        if applied:
            self.limits.write(applied)
        if skipped:
            logger.warning(
                "btrfs: %d homes are plain directories, not subvolumes, so got no limit "
                "(uids %s); %s",
                len(skipped),
                ", ".join(map(str, skipped[:20])),
                CONVERSION_HINT,
            )
        return len(applied)

    # --- usage ----------------------------------------------------------------------------

    def usage(self, uid: int) -> Usage:
        """Referenced bytes of the home's qgroup (plus data reserved for writes in flight), and
        the measured size of the web directory."""
        soft, hard = self.limits.read(uid)
        used = 0
        for home in self._subvolume_homes(uid):
            www = self.www_root / home.name
            if www.is_dir() and not www.is_symlink() and os.lstat(www).st_uid == uid:
                used += self.www_usage.measure(str(www))
            counters = self._qgroup_counters(home)
            # rsv_data is what dirty, not yet committed writes have reserved: the kernel
            # charges it against the limit now, so the page should show it now too.
            used += counters["referenced"] + counters.get("rsv_data", 0)
            # The kernel's figure, not the log's: a limit lost with the qgroup shows as 0.
            hard = counters["max_referenced"]
        return Usage(used_bytes=used, soft_bytes=soft, hard_bytes=hard, backend=self.name)

    def check(self) -> dict[str, object]:
        """Prove quotas are still on and their accounting consistent."""
        if not self.qgroups_dir.is_dir():
            raise QuotaBackendError(
                f"btrfs quotas are off on {self.homes_root} (btrfs quota enable)"
            )
        inconsistent = self.qgroups_dir / "inconsistent"
        if inconsistent.exists() and inconsistent.read_text().strip() not in ("", "0"):
            raise QuotaBackendError(
                f"btrfs qgroup accounting on {self.homes_root} is inconsistent "
                f"(btrfs quota rescan -w {self.homes_root})"
            )
        return {
            "filesystem_uuid": self.fsid,
            "capacity_bytes": self.capacity_bytes(),
            "qgroups": sum(1 for entry in self.qgroups_dir.iterdir() if entry.name[:2] == "0_"),
        }

    def capacity_bytes(self) -> int:
        """The size of the filesystem holding the homes."""
        return filesystem_size(self.homes_root)

    # --- helpers --------------------------------------------------------------------------

    def _subvolume_homes(self, uid: int, paths: list[str] | None = None) -> list[Path]:
        homes = [Path(path) for path in (self.locator.homes(uid) if paths is None else paths)]
        for home in homes:
            st = os.lstat(home)
            if not stat.S_ISDIR(st.st_mode) or st.st_ino != SUBVOLUME_ROOT_INODE:
                raise ApiError(
                    409,
                    "not_a_subvolume",
                    f"{home} is a plain directory, not a btrfs "
                    f"subvolume, so no limit can be set on it: {CONVERSION_HINT}",
                )
        return homes

    def _limit_path(self, home: Path, hard_bytes: int) -> None:
        fd = os.open(home, _DIR_FLAGS)
        try:
            qgroup_limit(fd, hard_bytes)
        except OSError as exc:
            raise QuotaBackendError(f"cannot limit {home}: {exc.strerror}") from exc
        finally:
            os.close(fd)

    def _qgroup_counters(self, home: Path) -> dict[str, int]:
        try:
            fd = os.open(home, _DIR_FLAGS)
        except FileNotFoundError:
            return {"referenced": 0, "max_referenced": 0}
        try:
            qgroup = self.qgroups_dir / f"0_{subvolume_id(fd)}"
        finally:
            os.close(fd)
        counters = {}
        for name in ("referenced", "max_referenced", "rsv_data"):
            try:
                counters[name] = int((qgroup / name).read_text())
            except FileNotFoundError:
                if name != "rsv_data":  # older kernels do not have it
                    raise QuotaBackendError(f"no qgroup for {home} ({qgroup})") from None
        return counters
