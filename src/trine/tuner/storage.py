"""Where a study lives: a SQLite file by default, a database URL, or an Optuna storage.

The default needs nothing started: `directory/project_name/study.db`. A `postgresql://` URL
(or any SQLAlchemy URL) shares one study between processes on many machines; a journal file
(`journal_storage(path)`) shares it between processes on one machine. Relational storages
get a heartbeat, so a trial whose process died is failed and queued again.
"""
from __future__ import annotations

import os
import re
import time
from typing import Optional
from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***, for error messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def _scrub(text: str, url: str) -> str:
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return text.replace(password, "***") if password else text


def ensure_writable_dir(path: str, what: str = "directory") -> str:
    """Create `path` if needed and prove it writable by writing a probe file.

    Raises:
        PermissionError: naming the directory and the fix.
    """
    path = os.path.abspath(path)
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".trine_write_probe_{os.getpid()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise PermissionError(
            f"The tuner's {what} {path!r} is not writable ({e.strerror or e}). The study, "
            "trial checkpoints and logs are written there: pass a writable directory= (or "
            "project_name=), or fix the permissions.") from e
    return path


def journal_storage(path: str):
    """An Optuna journal-file storage: several processes on one machine share the study
    through one append-only file (no database, no heartbeat).

    Args:
        path: the journal file.

    Returns:
        an `optuna.storages.JournalStorage`.
    """
    import optuna
    ensure_writable_dir(os.path.dirname(os.path.abspath(path)) or ".", "journal directory")
    backend = optuna.storages.journal.JournalFileBackend(os.fspath(path))
    return optuna.storages.JournalStorage(backend)


def open_storage(storage, project_dir: str, heartbeat_interval: Optional[int],
                 grace_period: Optional[int], max_retries: Optional[int]):
    """Resolve the `storage=` argument to an Optuna storage.

    Args:
        storage: None (SQLite file in `project_dir`), a URL string, a `*.log` / `*.journal`
            path (journal storage) or an Optuna storage object (used as given).
        project_dir: the tuner's `directory/project_name`.
        heartbeat_interval: seconds between a running trial's heartbeats (None: no heartbeat).
        grace_period: seconds without a heartbeat after which a trial counts as dead.
        max_retries: how often a dead trial is queued again.

    Returns:
        (the storage, a description safe to print).

    Raises:
        ConnectionError: when a database URL cannot be reached (the password is not shown).
        TypeError: for another type of `storage`.
    """
    import optuna
    if storage is not None and not isinstance(storage, str):
        if isinstance(storage, optuna.storages.BaseStorage):
            return storage, type(storage).__name__
        raise TypeError(f"storage must be None, a database URL, a journal file path or an "
                        f"optuna.storages object, received {type(storage).__name__}.")
    if isinstance(storage, str) and storage.endswith((".log", ".journal")) and \
            "://" not in storage:
        return journal_storage(storage), f"journal file {storage}"
    url = driver_url(storage or "sqlite:///" + os.path.join(project_dir, "study.db"))
    kwargs = {}
    if heartbeat_interval:
        kwargs = dict(heartbeat_interval=int(heartbeat_interval),
                      grace_period=int(grace_period or 2 * heartbeat_interval),
                      heartbeat_stale_trial_callback=_retry_callback(max_retries))
    engine_kwargs = {}
    if url.startswith("postgresql"):
        engine_kwargs = {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    elif url.startswith("sqlite"):
        # several processes write one file: wait for the lock rather than fail at once
        engine_kwargs = {"connect_args": {"timeout": 60}}
    import warnings
    try:
        for attempt in range(5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    rdb = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs,
                                                     **kwargs)
                break
            except Exception as e:  # two processes creating the tables at once: retry
                text = str(e)
                if attempt == 4 or not ("duplicate key" in text or "already exists" in text):
                    raise
                time.sleep(0.5 + attempt)
        if url.startswith("sqlite"):
            _fast_sqlite(rdb.engine)
        return rdb, redact_url(url)
    except Exception as e:  # sqlalchemy's errors differ by driver; all mean "cannot open"
        reason = _scrub(str(getattr(e, "orig", None) or e).strip().splitlines()[0], url)
        raise ConnectionError(
            f"Could not open the tuning study storage {redact_url(url)}: {reason}. Check that "
            "the database server is running and reachable from this machine, and that the "
            "user, password and database name in the URL are right.") from None


def driver_url(url: str) -> str:
    """A plain postgresql:// URL names psycopg2 (our extra's driver) unless psycopg 3, which
    newer SQLAlchemy picks by default, is installed."""
    import importlib.util
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme) and importlib.util.find_spec("psycopg") is None:
            return "postgresql+psycopg2://" + url[len(scheme):]
    return url


def _fast_sqlite(engine) -> None:
    """WAL and synchronous=NORMAL: a commit per trial update stays cheap (no fsync each),
    and readers in other processes do not block the writer."""
    from sqlalchemy import event

    def on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections opened before the listener reconnect with it


def _retry_callback(max_retries):
    import warnings

    import optuna
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(
            max_retry=max_retries, inherit_intermediate_values=True)
