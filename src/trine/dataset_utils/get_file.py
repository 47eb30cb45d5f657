"""`get_file`: download a file into the trine cache once, check its hash, extract archives.

The cache is `$TRINE_HOME` (default `~/.trine`) / `cache_subdir`. A file already there (and
matching `file_hash` when given) is used without any network access, so tests and offline
machines place files by hand. Archives are hostile: members that would land outside the
extraction folder, links and devices are refused.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from typing import Optional

__all__ = ["get_file", "trine_home", "validate_file"]


def trine_home() -> str:
    """The trine cache root: `$TRINE_HOME`, else `~/.trine`."""
    return os.environ.get("TRINE_HOME") or os.path.join(os.path.expanduser("~"), ".trine")


def _hasher(algorithm: str, file_hash: Optional[str]):
    if algorithm == "auto":
        algorithm = "sha256" if file_hash is not None and len(file_hash) == 64 else "md5"
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"get_file: hash_algorithm must be 'auto', 'sha256' or 'md5', received "
                         f"{algorithm!r}.")
    return hashlib.new(algorithm)


def validate_file(fpath, file_hash: str, algorithm: str = "auto",
                  chunk_size: int = 65535) -> bool:
    """Whether the file's sha256 / md5 hex digest equals `file_hash`."""
    h = _hasher(algorithm, file_hash)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            h.update(chunk)
    return h.hexdigest() == str(file_hash)


def _download(origin: str, fpath: str) -> None:
    from trine.training.progbar import Progbar
    tmp = fpath + ".part"
    try:
        with urllib.request.urlopen(origin, timeout=60) as response, open(tmp, "wb") as out:
            total = response.headers.get("Content-Length")
            bar = Progbar(int(total) if total else None, unit_name="bytes")
            done = 0
            for chunk in iter(lambda: response.read(1 << 16), b""):
                out.write(chunk)
                done += len(chunk)
                bar.update(done)
        os.replace(tmp, fpath)
    except (urllib.error.URLError, OSError, ValueError) as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise OSError(
            f"get_file: could not download {origin!r} to {fpath!r} ({e}). If this machine is "
            f"offline, copy the file to {fpath!r} by hand: it is used from there without "
            "a download.") from e


def _safe_target(root: str, name: str) -> str:
    target = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([os.path.realpath(root), target]) != os.path.realpath(root):
        raise ValueError(f"get_file: the archive member {name!r} would be written outside "
                         f"{root!r}; the archive is refused.")
    return target


def _extract(fpath: str, dest: str, archive_format) -> bool:
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [] if archive_format is None else
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    tmp = dest + ".part"
    for fmt in formats:
        if fmt == "tar" and tarfile.is_tarfile(fpath):
            shutil.rmtree(tmp, ignore_errors=True)
            with tarfile.open(fpath) as tar:
                for m in tar.getmembers():
                    _safe_target(tmp, m.name)
                    if not (m.isfile() or m.isdir()):
                        raise ValueError(f"get_file: the archive {fpath!r} holds {m.name!r}, "
                                         "a link or device; only files and folders are "
                                         "extracted.")
                tar.extractall(tmp, filter="data")
        elif fmt == "zip" and zipfile.is_zipfile(fpath):
            shutil.rmtree(tmp, ignore_errors=True)
            with zipfile.ZipFile(fpath) as zf:
                for name in zf.namelist():
                    _safe_target(tmp, name)
                zf.extractall(tmp)
        elif fmt not in ("tar", "zip"):
            raise ValueError(f"get_file: archive_format must be 'auto', 'tar', 'zip', a list "
                             f"of them or None, received {archive_format!r}.")
        else:
            continue
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
        return True
    return False


def get_file(fname: Optional[str] = None, origin: Optional[str] = None, untar: bool = False,
             md5_hash: Optional[str] = None, file_hash: Optional[str] = None,
             cache_subdir: str = "datasets", hash_algorithm: str = "auto",
             extract: bool = False, archive_format="auto", cache_dir: Optional[str] = None,
             force_download: bool = False) -> str:
    """Download `origin` into the cache unless already there; return the local path.

    Args:
        fname: file name in the cache (default: the URL's last path part); an absolute
            path saves there.
        origin: the URL.
        untar: legacy: extract a tar archive into `cache_subdir/<fname without .tar.gz>`.
        md5_hash: legacy: `file_hash` with the md5 algorithm.
        file_hash: expected sha256 or md5 hex digest; a cached file that does not match is
            downloaded again, a download that does not match is deleted and refused.
        cache_subdir: folder under the cache dir.
        hash_algorithm: "auto" (sha256 for 64 hex digits, else md5), "sha256" or "md5".
        extract: extract a tar / zip archive into `<path>_extracted` and return that folder.
        archive_format: "auto", "tar", "zip", a list of them, or None.
        cache_dir: the cache root (default `$TRINE_HOME` or `~/.trine`).
        force_download: download even when the file is cached.

    Returns:
        The path of the file, or of the folder it was extracted to.

    Raises:
        ValueError: no origin / file name, a hash mismatch, a hostile archive.
        OSError: the download failed (the message names the URL and where to put the file
            by hand when offline).
    """
    if origin is None and fname is None:
        raise ValueError("get_file: pass origin= (a URL) and / or fname=.")
    if fname is None:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"get_file: cannot infer a file name from origin={origin!r}; "
                             "pass fname=.")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    cache_dir = os.path.expanduser(os.fspath(cache_dir)) if cache_dir else trine_home()
    datadir = os.path.join(cache_dir, cache_subdir)
    os.makedirs(datadir, exist_ok=True)
    fpath = fname if os.path.isabs(fname) else os.path.join(datadir, fname)
    if untar and fpath.endswith(".tar.gz"):
        fpath = fpath[:-len(".tar.gz")]
    archive = fpath + ".tar.gz" if untar else fpath
    need = force_download or not os.path.exists(archive)
    if not need and file_hash is not None and not validate_file(archive, file_hash,
                                                                 hash_algorithm):
        need = True  # a stale or corrupt copy: fetch it again
    if need:
        if origin is None:
            raise OSError(f"get_file: {archive!r} is not in the cache and no origin= was "
                          "given to download it from.")
        _download(origin, archive)
        if file_hash is not None and not validate_file(archive, file_hash, hash_algorithm):
            os.remove(archive)
            raise ValueError(f"get_file: the file downloaded from {origin!r} does not match "
                             f"file_hash {file_hash!r}; it was deleted. The source changed or "
                             "the download was corrupted.")
    if untar:
        if need or not os.path.exists(fpath):
            _extract(archive, fpath, "tar")
        return fpath
    if extract:
        dest = fpath + "_extracted"
        if need or not os.path.exists(dest):
            if not _extract(fpath, dest, archive_format):
                raise ValueError(f"get_file: {fpath!r} is not a {archive_format} archive; "
                                 "pass extract=False to get the file itself.")
        return dest
    return fpath
