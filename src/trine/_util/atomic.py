"""Atomic file writes whose temporary files are findable: a killed writer's leftovers are
removed by the next save or load of the same path.

A temporary file is named `.<target name>.trine-<pid>-<token>.tmp` next to its target, so
the files belonging to one target are known from the target's name alone, and the pid says
whether the writer can still be writing it. Files are created with mode 0o666 filtered by
the process's umask, as `open()` and Keras create theirs (not mkstemp's 0o600).
"""
from __future__ import annotations

import os
import secrets

_TAG = ".trine-"
_SUFFIX = ".tmp"


def _prefix(filepath: str) -> str:
    return "." + os.path.basename(filepath) + _TAG


def temp_path(filepath) -> str:
    """A new temporary path for writing `filepath`: same directory, this process's pid."""
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    name = f"{_prefix(filepath)}{os.getpid()}-{secrets.token_hex(4)}{_SUFFIX}"
    return os.path.join(directory, name)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user: alive
        return True
    except OSError:
        return True
    return True


def remove_stale(filepath) -> list:
    """Remove temporary files left by killed writers of `filepath`; returns their paths.

    A temporary file is stale when the pid in its name is no process alive. Files of live
    writers (this process's included: another thread may be saving) are left alone.
    """
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    prefix = _prefix(filepath)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    removed = []
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_SUFFIX)):
            continue
        pid_text = name[len(prefix):-len(_SUFFIX)].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid == os.getpid() or _pid_alive(pid):
            continue
        path = os.path.join(directory, name)
        try:
            os.unlink(path)
            removed.append(path)
        except OSError:  # removed meanwhile by another cleaner, or not ours to remove
            pass
    return removed


def atomic_write(filepath, write_fn, overwrite=True, what="file"):
    """Write `filepath` through a temporary file in the same directory, then rename.

    A crash leaves either the old file or the new one, never a half-written file; a
    temporary file left by a killed writer is removed by the next write (or load) of the
    same path.

    Args:
        filepath: the target path.
        write_fn: called with a binary file object open for writing (and reading).
        overwrite: replace an existing file (default True).
        what: what is saved, for error messages ("model", "weights", ...).

    Raises:
        FileExistsError: the file exists and overwrite=False.
        IsADirectoryError / FileNotFoundError: the path is a directory / its directory is
            missing.
    """
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(
            f"{filepath!r} already exists and overwrite=False. Pass overwrite=True to replace it.")
    if os.path.isdir(filepath):
        raise IsADirectoryError(f"Cannot save the {what} to {filepath!r}: it is a directory.")
    directory = os.path.dirname(os.path.abspath(filepath))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save the {what} to {filepath!r}: directory "
                                f"{directory!r} does not exist.")
    remove_stale(filepath)
    tmp = temp_path(filepath)
    # 0o666 & ~umask: the mode a plain open() gives, which users and Keras expect
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "w+b") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_bytes(filepath, data: bytes, what="file") -> None:
    """`atomic_write` of a bytes value."""
    atomic_write(filepath, lambda f: f.write(data), what=what)


__all__ = ["atomic_write", "remove_stale", "temp_path", "write_bytes"]


def write_output_file(path, data: bytes, what: str) -> None:
    """Write `data` (a plot, an image) to `path` through a temporary file, so no partial file
    is left; errors name `what` was writing and how to fix the path."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"{what} cannot write '{path}': the directory '{directory}' does not exist. "
            "Create it first or choose another path.")
    try:  # the shared writer: mode from the umask, a killed write's temp file cleaned later
        atomic_write(path, lambda f: f.write(data), what="plot")
    except PermissionError as e:
        raise PermissionError(
            f"{what} cannot write '{path}': permission denied ({e.strerror}). Choose a "
            "writable location.") from e
    except IsADirectoryError as e:
        raise IsADirectoryError(
            f"{what} cannot write '{path}': it is a directory. Give a file name such as "
            f"'{os.path.join(path, 'model.png')}'.") from e
    except OSError as e:
        raise OSError(f"{what} cannot write '{path}': {e.strerror or e}.") from e
