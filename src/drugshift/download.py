"""Fetch, verify and unpack the upstream files of the download manifest (``resources/downloads.yaml``).

* :func:`load_manifest` — the manifest as ``{key: Entry}``; a key is ``<source>/<file>`` and is
  also the file's place under ``results/raw/``.
* :func:`source_url` — where a key is fetched from: its upstream URL, or ``<mirror>/<key>`` when a
  mirror base URL is configured (the mirror holds the files in the ``results/raw`` layout).
* :func:`fetch` — HTTP(S)/file download with retries and exponential backoff, written to a temporary
  file beside the target and moved into place with :func:`os.replace` only after its size and
  sha256 check out, so a failed or interrupted download never leaves a half-written output.
* :func:`verify` — size and sha256 check; a mismatch raises :class:`drugshift.errors.InputError`
  naming the file, the expected and the measured value.
* :func:`extract` — tar/zip extraction that refuses absolute paths, ``..`` components, and links
  or devices, so nothing can land outside the target folder.

Upstream checksums are recorded only where the upstream publishes a versioned file whose digest
is known; an entry with ``sha256: null`` is checked on size (when known) and its measured sha256
is logged and written to ``<file>.sha256`` so a user can pin it in the manifest.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import hashlib
import logging
import lzma
import os
import shutil
import signal
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from drugshift.atomic import atomic_directory, current_umask
from drugshift.errors import InputError, WriteError, writing

log = logging.getLogger("drugshift")

_CHUNK = 1 << 20  # bytes read per block while downloading and hashing
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")


@dataclass(frozen=True)
class Entry:
    """One upstream file: ``key`` (``<source>/<file>``), ``url`` (None when no public direct link
    is known: fetch it by hand or from a mirror), expected ``sha256`` and ``size`` in bytes (None
    when unknown), ``extract`` (unpack the archive into ``<key>.d/``) and a free-text ``note``."""

    key: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    extract: bool = False
    note: str = ""


def check_key(key: str) -> str:
    """A manifest key must be a relative POSIX path ``<source>/<file>`` without ``..``."""
    p = PurePosixPath(key)
    if p.is_absolute() or ".." in p.parts or len(p.parts) < 2 or "\\" in key or key != str(p):
        raise InputError(None, f"manifest key {key!r} must be a relative path '<source>/<file>' "
                               "without '..', '//' or a trailing '/'")
    return key


def load_manifest(path: str | Path) -> dict[str, Entry]:
    """Read the YAML manifest: ``files: {<source>/<file>: {url, sha256, size, extract, note}}``.

    Raises InputError for a malformed key, an unknown field, a sha256 that is not 64 hex digits,
    or a negative size.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(path, f"cannot read the download manifest: {exc}") from exc
    files = (doc or {}).get("files")
    if not isinstance(files, dict) or not files:
        raise InputError(path, "the manifest needs a non-empty 'files:' mapping")
    fields = set(Entry.__dataclass_fields__) - {"key"}
    out = {}
    for key, spec in files.items():
        try:
            check_key(key)
        except InputError as exc:
            raise InputError(path, exc.problem) from None
        spec = spec or {}
        unknown = set(spec) - fields
        if unknown:
            raise InputError(path, f"{key}: unknown field(s) {sorted(unknown)}; allowed: {sorted(fields)}")
        sha = spec.get("sha256")
        if sha is not None and (len(str(sha)) != 64 or any(c not in "0123456789abcdef" for c in str(sha).lower())):
            raise InputError(path, f"{key}: sha256 must be 64 hex digits, got {sha!r}")
        size = spec.get("size")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise InputError(path, f"{key}: size must be a non-negative integer (bytes), got {size!r}")
        out[key] = Entry(key=key, url=spec.get("url"), sha256=None if sha is None else str(sha).lower(),
                         size=size, extract=bool(spec.get("extract", False)), note=str(spec.get("note", "") or ""))
    return out


def source_url(entry: Entry, mirror: str | None = None) -> str:
    """The URL ``entry`` is fetched from.

    With a ``mirror`` base URL the upstream URL is ignored and the file is taken from
    ``mirror.rstrip('/') + '/' + key`` (key path segments percent-encoded), e.g. key
    ``geo/GSE117872/GSE117872_good_Data_TPM.txt.gz`` with mirror ``http://127.0.0.1:8000/data``
    gives ``http://127.0.0.1:8000/data/geo/GSE117872/GSE117872_good_Data_TPM.txt.gz``. A mirror
    is therefore simply a copy of ``results/raw/`` served over HTTP (or a ``file://`` folder).
    """
    if mirror:
        return mirror.rstrip("/") + "/" + urllib.parse.quote(entry.key)
    if not entry.url:
        raise InputError(entry.key, "no upstream URL is known for this file (see its note in "
                                    f"resources/downloads.yaml: {entry.note or 'none'}); download it by hand "
                                    "into results/raw/ or configure download.mirror")
    return entry.url


def sha256sum(path: str | Path) -> str:
    """Hex sha256 digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: str | Path, entry: Entry, *, name: str | None = None) -> str:
    """Check ``path`` against the entry's size and sha256; return the measured sha256.

    Raises InputError naming ``name`` (default: the entry key), the expected and the measured
    value. Unknown (None) expectations are not checked.
    """
    name = name or entry.key
    size = os.path.getsize(path)
    if entry.size is not None and size != entry.size:
        raise InputError(name, f"size mismatch: expected {entry.size} bytes, got {size} bytes "
                               "(truncated or changed upstream file)")
    digest = sha256sum(path)
    if entry.sha256 is not None and digest != entry.sha256:
        raise InputError(name, f"sha256 mismatch: expected {entry.sha256}, got {digest} "
                               "(corrupted download, or the upstream file changed)")
    return digest


class _RetryableError(Exception):
    pass


# An HTML page where a data file was expected: a login wall, an error or "file moved" page served
# with status 200. Without a pinned sha256 nothing else would notice it.
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")
_HTML_NAMES = (".html", ".htm", ".xhtml")


def _looks_like_html(head: bytes, content_type: str) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(_HTML_STARTS) or (text.startswith(b"<?xml") and b"<html" in text[:2048]):
        return True
    # a text/html answer that starts with markup (a body without doctype) is a page too
    return content_type.split(";")[0].strip().lower() == "text/html" and text.startswith(b"<")


def _reject_html(tmp: Path, dest: Path, content_type: str, name: str) -> None:
    if dest.name.lower().endswith(_HTML_NAMES):
        return
    with open(tmp, "rb") as fh:
        head = fh.read(4096)
    if _looks_like_html(head, content_type):
        first = " ".join(head[:80].decode("utf-8-sig", errors="replace").split())
        raise InputError(name, f"the server sent an HTML page (Content-Type {content_type or 'not given'}; "
                               f"it starts {first!r}) instead of the data file: a login, error or 'moved' "
                               "page; check the URL, or fetch the file by hand into results/raw/")



def _publish(tmp: Path, dest: Path) -> None:
    """Give ``tmp`` the mode a plain ``open()`` would (mkstemp's 0600 must not reach a shared
    results folder or a mirror) and move it onto ``dest``."""
    with writing(dest):
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, dest)


@contextlib.contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """Within the block SIGTERM (what Snakemake and cluster schedulers send to stop a job) raises
    SystemExit, so ``finally``/``except`` clauses run and no ``.part`` file is left behind.
    SIGKILL cannot be caught: :func:`fetch` removes the leftovers of killed attempts instead."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _part_files(dest: Path) -> list[Path]:
    return sorted(dest.parent.glob(f".{glob.escape(dest.name)}.*.part"))


def _copy_stream(response, fh, total: int | None, url: str, progress_every: float, dest: Path) -> int:
    done, last = 0, time.monotonic()
    for block in iter(lambda: response.read(_CHUNK), b""):  # a read error is the network's: retried
        with writing(dest):  # a write error is the disk's: reported at once, naming the file
            fh.write(block)
        done += len(block)
        now = time.monotonic()
        if now - last >= progress_every:
            last = now
            if total:
                log.info("  %s: %.1f of %.1f MB (%.0f %%)", url, done / 1e6, total / 1e6, 100 * done / total)
            else:
                log.info("  %s: %.1f MB", url, done / 1e6)
    return done


def _download_once(url: str, tmp: Path, dest: Path, timeout: float, progress_every: float) -> str:
    """Download ``url`` into ``tmp``; return the Content-Type the server sent ('' if none)."""
    request = urllib.request.Request(url, headers={"User-Agent": "drugshift-download"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            headers = getattr(response, "headers", None)
            length = headers.get("Content-Length") if headers is not None else None
            content_type = (headers.get("Content-Type") if headers is not None else None) or ""
            total = int(length) if length and length.isdigit() else None
            with writing(dest):
                fh = open(tmp, "wb")
            try:
                done = _copy_stream(response, fh, total, url, progress_every, dest)
            finally:
                with writing(dest):  # closing flushes: the last block may hit a full disk here
                    fh.close()
        if total is not None and done != total:
            raise _RetryableError(f"connection closed after {done} of {total} bytes")
        return content_type
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code in (408, 425, 429):
            raise _RetryableError(f"HTTP {exc.code} {exc.reason}") from exc
        raise InputError(url, f"HTTP {exc.code} {exc.reason}") from exc
    except WriteError:
        raise
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        raise _RetryableError(str(getattr(exc, "reason", exc))) from exc


def fetch(
    entry: Entry,
    dest: str | Path,
    *,
    mirror: str | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 2.0,
    progress_every: float = 10.0,
) -> str:
    """Download ``entry`` to ``dest`` atomically and verify it; return the measured sha256.

    ``retries`` extra attempts follow a failed one (connection errors, time-outs, HTTP 5xx/429),
    waiting ``backoff * 2**attempt`` seconds in between; HTTP 4xx errors fail at once. The data go
    to a temporary file in ``dest``'s folder, which is checked and then renamed onto ``dest``, so
    ``dest`` is either complete and verified or absent:

    * the temporary ``.<name>.*.part`` file is deleted on any exit (an exception, Ctrl-C, SIGTERM
      from Snakemake or a scheduler), and leftovers of a SIGKILLed attempt are deleted by the
      next fetch of the same file;
    * an HTML page (a login, error or "moved" page served with status 200) is rejected even
      when the manifest pins no sha256 (unless the file's own name ends in ``.html``);
    * size and sha256 are checked (:func:`verify`);
    * ``dest`` gets the mode of a plain ``open()`` under the user's umask (0644 under 022), not
      the temporary file's 0600;
    * a full disk, a read-only file system or a missing permission raises
      :class:`drugshift.errors.WriteError` naming ``dest`` and saying which, without retrying.

    The measured sha256 is logged and written to ``<dest>.sha256`` (``<digest>  <name>``, the
    ``sha256sum`` format) for pinning in the manifest. Progress (MB and percent when the server
    sends a length) is logged every ``progress_every`` seconds.
    """
    dest = Path(dest)
    url = source_url(entry, mirror)
    name = f"{entry.key} (from {url})"
    with writing(dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        for stale in _part_files(dest):
            log.info("removing %s, left by an interrupted download", stale)
            stale.unlink(missing_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        with _terminate_as_exception():
            for attempt in range(retries + 1):
                try:
                    log.info("fetching %s (attempt %d of %d)", url, attempt + 1, retries + 1)
                    content_type = _download_once(url, tmp, dest, timeout, progress_every)
                    break
                except _RetryableError as exc:
                    if attempt == retries:
                        raise InputError(url, f"download failed after {retries + 1} attempt(s): {exc}") from exc
                    wait = backoff * 2 ** attempt
                    log.warning("%s: %s; retrying in %.1f s", url, exc, wait)
                    time.sleep(wait)
            _reject_html(tmp, dest, content_type, name)
            digest = verify(tmp, entry, name=name)
            _publish(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if entry.sha256 is None:
        log.warning("%s: no sha256 in the manifest; measured %s (pin it in resources/downloads.yaml)",
                    entry.key, digest)
    log.info("%s: %d bytes, sha256 %s", dest, dest.stat().st_size, digest)
    sidecar = Path(f"{dest}.sha256")
    with writing(sidecar):
        sidecar.write_text(f"{digest}  {dest.name}\n")
    return digest


def _safe_member_path(root: Path, name: str, archive: Path) -> Path:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise InputError(archive, f"archive member {name!r} has an absolute path; refusing to extract")
    if ".." in p.parts:
        raise InputError(archive, f"archive member {name!r} contains '..'; refusing to extract")
    target = (root / Path(*p.parts)).resolve() if p.parts else root.resolve()
    if target != root.resolve() and root.resolve() not in target.parents:
        raise InputError(archive, f"archive member {name!r} would land outside {root}; refusing to extract")
    return target


# What a truncated or corrupt archive raises from inside tarfile/zipfile/gzip/zlib (gzip's
# BadGzipFile is an OSError without an errno, so it is not mistaken for a write error).
_CORRUPT = (EOFError, tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, gzip.BadGzipFile)


def _check_file_folder_clash(archive: Path, members: list[tuple[str, bool]]) -> None:
    """Refuse an archive where one member is a file and another needs that path as a folder
    (``a`` and ``a/b``): extracting it would fail half-way with a bare FileExistsError."""
    files = {PurePosixPath(n).as_posix().rstrip("/"): n for n, is_dir in members if not is_dir}
    for name, _ in members:
        for parent in PurePosixPath(name.rstrip("/")).parents:
            if parent.as_posix() in files:
                raise InputError(archive, f"archive member {files[parent.as_posix()]!r} is a file but member "
                                          f"{name!r} needs it to be a folder; refusing to extract")


def _copy_member(src, target: Path, shown: Path) -> None:
    """Write one member to ``target`` (in the temporary folder); errors name ``shown`` (its final place)."""
    with writing(shown), src:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)


def _zip_members(zf: zipfile.ZipFile, archive: Path) -> list:
    """(name, is_dir, opener) of each member; symbolic links refused."""
    infos = zf.infolist()
    for info in infos:
        mode = info.external_attr >> 16
        if mode and (mode & 0o170000) == 0o120000:
            raise InputError(archive, f"archive member {info.filename!r} is a symbolic link; refusing to extract")
    return [(i.filename, i.is_dir(), lambda i=i: zf.open(i)) for i in infos]


def _tar_members(tf: tarfile.TarFile, archive: Path) -> list:
    """(name, is_dir, opener) of each member; links, devices and FIFOs refused."""
    members = tf.getmembers()  # reads the whole archive: a truncated one fails here
    for m in members:
        if m.issym() or m.islnk():
            raise InputError(archive, f"archive member {m.name!r} is a link (to {m.linkname!r}); refusing to extract")
        if not (m.isfile() or m.isdir()):
            raise InputError(archive, f"archive member {m.name!r} is not a regular file or folder; refusing to extract")
    return [(m.name, m.isdir(), lambda m=m: tf.extractfile(m)) for m in members]


def _write_members(archive: Path, members: list, tmp: Path, dest: Path) -> list[Path]:
    """Check every member's path, then write them into ``tmp``; returns the files written."""
    for name, _, _ in members:
        _safe_member_path(tmp, name, archive)
    _check_file_folder_clash(archive, [(name, is_dir) for name, is_dir, _ in members])
    out = []
    for name, is_dir, open_member in members:
        target = _safe_member_path(tmp, name, archive)
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        _copy_member(open_member(), target, dest / target.relative_to(tmp.resolve()))
        out.append(target)
    return out


def extract(archive: str | Path, dest: str | Path) -> list[str]:
    """Unpack a ``.tar``, ``.tar.gz``/``.tgz`` or ``.zip`` archive into the folder ``dest``.

    Every member is checked before anything is written: absolute paths, ``..`` components,
    symbolic or hard links, device/FIFO members, and a member that is a file where another needs a
    folder (``a`` and ``a/b``) raise InputError naming the archive and the member; a truncated or
    corrupt archive raises InputError naming the archive and what the decompressor found; a full
    disk or read-only destination raises :class:`drugshift.errors.WriteError` naming the file.
    Extraction goes to a temporary sibling folder (given the user's umask, not mkdtemp's 0700)
    that is renamed onto ``dest`` at the end (atomic: ``dest`` is complete or absent). Returns the
    extracted file names (relative, sorted).
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise InputError(archive, "archive not found")
    try:
        with writing(dest), atomic_directory(dest) as tmp:
            os.chmod(tmp, 0o777 & ~current_umask())
            if zipfile.is_zipfile(archive):
                with zipfile.ZipFile(archive) as zf:
                    files = _write_members(archive, _zip_members(zf, archive), tmp, dest)
            elif archive.name.lower().endswith(".zip"):
                raise InputError(archive, "not a readable zip archive (truncated or corrupt: no zip directory "
                                          "at its end); delete it and download it again")
            elif tarfile.is_tarfile(archive):
                with tarfile.open(archive) as tf:
                    files = _write_members(archive, _tar_members(tf, archive), tmp, dest)
            else:
                raise InputError(archive, "not a tar or zip archive (or one too damaged to recognise)")
            names = [str(f.relative_to(tmp.resolve())) for f in files]
    except _CORRUPT as exc:
        raise InputError(archive, f"cannot extract: the archive is truncated or corrupt ({type(exc).__name__}: "
                                  f"{exc}); delete it and download it again") from exc
    return sorted(names)
