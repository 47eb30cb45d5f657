"""Reading `.keras` zip archives without trusting them, and the boundary that turns whatever a
malformed file provokes into a `SavingError`.

Before any member is used the whole archive is vetted: member names must be plain relative
paths (no absolute paths, `..`, backslashes, drive letters, NUL; no symlink entries; no
duplicates; no encryption), only stored / deflated members, each member's declared size within
a limit and at most `MAX_RATIO` times its compressed size; bytes are read with a cap so a lying
header cannot make trine read more.
"""
from __future__ import annotations

import json
import os
import stat
import zipfile
import zlib

from trine.core import allocation
from trine.saving.errors import SavingError, UnsafeFileError

MAX_MEMBERS = 10_000
MAX_JSON_BYTES = 64 << 20
MAX_MEMBER_BYTES = 64 << 30
MAX_RATIO = 100
_RATIO_FLOOR = 1 << 20


def _check_name(name):
    bad = (not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name
           or (len(name) > 1 and name[1] == ":") or len(name) > 1024
           or any(part in ("..",) for part in name.split("/")))
    if bad:
        raise UnsafeFileError(
            f"Refused to load the archive: member name {name!r} could escape the target "
            "directory (absolute path, '..', backslash or drive letter).")


def _vet(zf, label):
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise UnsafeFileError(f"Refused to load {label}: it has {len(infos)} members (more "
                              f"than {MAX_MEMBERS}).")
    seen = set()
    for info in infos:
        name = info.filename
        _check_name(name)
        if name in seen:
            raise UnsafeFileError(f"Refused to load {label}: member {name!r} appears twice.")
        seen.add(name)
        mode = (info.external_attr >> 16) & 0o170000
        if mode == stat.S_IFLNK:
            raise UnsafeFileError(f"Refused to load {label}: member {name!r} is a symbolic link.")
        if info.flag_bits & 0x1:
            raise UnsafeFileError(f"Refused to load {label}: member {name!r} is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnsafeFileError(
                f"Refused to load {label}: member {name!r} uses compression method "
                f"{info.compress_type} (only stored and deflated members are accepted).")
        if info.file_size > MAX_MEMBER_BYTES:
            raise UnsafeFileError(
                f"Refused to load {label}: member {name!r} declares {info.file_size} bytes.")
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise UnsafeFileError(
                f"Refused to load {label}: member {name!r} declares {info.file_size} bytes but "
                f"stores only {info.compress_size} (a decompression bomb).")
    return seen


def _read(zf, name, cap, label):
    info = zf.getinfo(name)
    if info.file_size > cap:
        raise UnsafeFileError(f"Refused to load {label}: member {name!r} declares "
                              f"{info.file_size} bytes (the limit is {cap}).")
    try:
        with zf.open(info, "r") as f:
            data = f.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError) as e:
        raise SavingError(f"The archive {label} is corrupted: cannot read {name!r} ({e}).") from e
    if len(data) != info.file_size:
        raise SavingError(f"The archive {label} is corrupted: member {name!r} holds "
                          f"{len(data)} bytes, its header says {info.file_size}.")
    return data


def _open_zip(source, label):
    try:
        zf = zipfile.ZipFile(source, "r")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise SavingError(f"{label} is not a valid .keras archive (zip): {e}. It may be "
                          "truncated or corrupted.") from e
    try:
        names = _vet(zf, label)
    except BaseException:
        zf.close()
        raise
    return zf, names


def read_archive_member(filepath, name):
    """The bytes of one member of a `.keras` archive (after vetting the whole archive)."""
    label = repr(os.fspath(filepath))
    with open(filepath, "rb") as f:
        zf, names = _open_zip(f, label)
        with zf:
            if name not in names:
                raise SavingError(f"The archive {label} has no {name!r} (members: "
                                  f"{sorted(names)[:20]}).")
            return _read(zf, name, MAX_MEMBER_BYTES, label)


def _parse_json(data, label, what):
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        value = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise SavingError(f"The {what} of {label} is not valid JSON ({e}).") from e
    return value


_FILE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                RecursionError, OSError, RuntimeError, UnicodeError, zlib.error, EOFError)


def _as_saving_error(fn, label):
    """Run `fn` under the load budget; turn any error a malformed file can provoke, whatever
    its type (SystemExit, GeneratorExit, ...: only a user's KeyboardInterrupt passes), into a
    SavingError."""
    try:
        with allocation.allocation_budget(label):
            return fn()
    except (SavingError, FileNotFoundError, IsADirectoryError, PermissionError, KeyboardInterrupt):
        raise
    except allocation.LoadRefused as e:
        raise UnsafeFileError(str(e)) from e
    except _FILE_ERRORS as e:
        raise SavingError(f"Could not load {label}: {type(e).__name__}: {e}") from e
    except BaseException as e:  # noqa: B036 - a file must never end the process or escape as anything else
        raise SavingError(f"Could not load {label}: loading raised {type(e).__name__}: {e}. "
                          "The file is malformed or hostile.") from e
