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

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from drugshift.atomic import atomic_directory
from drugshift.errors import InputError

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


def _copy_stream(response, fh, total: int | None, url: str, progress_every: float) -> int:
    done, last = 0, time.monotonic()
    for block in iter(lambda: response.read(_CHUNK), b""):
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


def _download_once(url: str, tmp: Path, timeout: float, progress_every: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "drugshift-download"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as fh:
            length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            total = int(length) if length and length.isdigit() else None
            done = _copy_stream(response, fh, total, url, progress_every)
        if total is not None and done != total:
            raise _RetryableError(f"connection closed after {done} of {total} bytes")
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code in (408, 425, 429):
            raise _RetryableError(f"HTTP {exc.code} {exc.reason}") from exc
        raise InputError(url, f"HTTP {exc.code} {exc.reason}") from exc
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
    to a temporary file in ``dest``'s folder, which is checked (:func:`verify`) and then renamed
    onto ``dest``; on any failure it is deleted, so ``dest`` is either complete and verified or
    absent. The measured sha256 is logged and written to ``<dest>.sha256`` (``<digest>  <name>``,
    the ``sha256sum`` format) for pinning in the manifest. Progress (MB and percent when the
    server sends a length) is logged every ``progress_every`` seconds.
    """
    dest = Path(dest)
    url = source_url(entry, mirror)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        for attempt in range(retries + 1):
            try:
                log.info("fetching %s (attempt %d of %d)", url, attempt + 1, retries + 1)
                _download_once(url, tmp, timeout, progress_every)
                break
            except _RetryableError as exc:
                if attempt == retries:
                    raise InputError(url, f"download failed after {retries + 1} attempt(s): {exc}") from exc
                wait = backoff * 2 ** attempt
                log.warning("%s: %s; retrying in %.1f s", url, exc, wait)
                time.sleep(wait)
        digest = verify(tmp, entry, name=f"{entry.key} (from {url})")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if entry.sha256 is None:
        log.warning("%s: no sha256 in the manifest; measured %s (pin it in resources/downloads.yaml)",
                    entry.key, digest)
    log.info("%s: %d bytes, sha256 %s", dest, dest.stat().st_size, digest)
    Path(f"{dest}.sha256").write_text(f"{digest}  {dest.name}\n")
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


def extract(archive: str | Path, dest: str | Path) -> list[str]:
    """Unpack a ``.tar``, ``.tar.gz``/``.tgz`` or ``.zip`` archive into the folder ``dest``.

    Every member is checked before anything is written: absolute paths, ``..`` components,
    symbolic or hard links and device/FIFO members raise InputError naming the archive and the
    member. Extraction goes to a temporary sibling folder that is renamed onto ``dest`` at the
    end (atomic: ``dest`` is complete or absent). Returns the extracted file names (relative,
    sorted).
    """
    archive, dest = Path(archive), Path(dest)
    names: list[str] = []
    with atomic_directory(dest) as tmp:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                for info in infos:
                    mode = info.external_attr >> 16
                    if mode and (mode & 0o170000) == 0o120000:
                        raise InputError(archive, f"archive member {info.filename!r} is a symbolic link; refusing to extract")
                    _safe_member_path(tmp, info.filename, archive)
                for info in infos:
                    target = _safe_member_path(tmp, info.filename, archive)
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out, _CHUNK)
                    names.append(str(target.relative_to(tmp.resolve())))
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for m in members:
                    if m.issym() or m.islnk():
                        raise InputError(archive, f"archive member {m.name!r} is a link (to {m.linkname!r}); refusing to extract")
                    if not (m.isfile() or m.isdir()):
                        raise InputError(archive, f"archive member {m.name!r} is not a regular file or folder; refusing to extract")
                    _safe_member_path(tmp, m.name, archive)
                for m in members:
                    target = _safe_member_path(tmp, m.name, archive)
                    if m.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    src = tf.extractfile(m)
                    with src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out, _CHUNK)
                    names.append(str(target.relative_to(tmp.resolve())))
        else:
            raise InputError(archive, "not a tar or zip archive")
    return sorted(names)
