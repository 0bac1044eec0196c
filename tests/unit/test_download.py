"""drugshift.download: manifest, mirror URLs, retries, atomic verified writes, safe extraction."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import signal
import stat
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from drugshift import download
from drugshift.download import Entry
from drugshift.errors import InputError
from local_server import LocalServer

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = b"gene\tc1\tc2\nA\t1\t0\n" * 50


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.close()


def _entry(key="geo/GSE1/x.txt", payload=PAYLOAD, **kw):
    return Entry(key=key, url=kw.pop("url", None), sha256=kw.pop("sha256", hashlib.sha256(payload).hexdigest()),
                 size=kw.pop("size", len(payload)), **kw)


def test_repository_manifest_is_valid():
    manifest = download.load_manifest(ROOT / "resources" / "downloads.yaml")
    assert len(manifest) >= 25
    sources = {k.split("/")[0] for k in manifest}
    assert {"gdsc", "depmap", "tcga", "pdtc", "geo", "genesets", "orthologs"} <= sources
    for series in ("GSE110894", "GSE117872", "GSE149383", "GSE140440", "GSE112274"):
        assert any(k.startswith(f"geo/{series}/") for k in manifest), series
    for e in manifest.values():
        assert e.url is None or e.url.startswith(("https://", "http://", "ftp://"))
        assert e.url is not None or e.note, f"{e.key}: a file without a URL must say where to get it"


@pytest.mark.parametrize("entry, problem", [
    ("../etc/passwd: {url: 'http://x'}", "relative path"),
    ("a/b.txt: {sha256: abc}", "64 hex"),
    ("a/b.txt: {md5: abc}", "unknown field"),
])
def test_manifest_rejects_bad_entries(tmp_path, entry, problem):
    bad = tmp_path / "m.yaml"
    bad.write_text(f"files:\n  {entry}\n")
    with pytest.raises(InputError, match=problem):
        download.load_manifest(bad)


def test_mirror_url_is_mirror_plus_key():
    e = Entry(key="geo/GSE117872/GSE117872 good.txt.gz", url="https://ftp.ncbi.nlm.nih.gov/geo/x")
    assert download.source_url(e) == "https://ftp.ncbi.nlm.nih.gov/geo/x"
    assert (download.source_url(e, "http://127.0.0.1:9/base/")
            == "http://127.0.0.1:9/base/geo/GSE117872/GSE117872%20good.txt.gz")
    with pytest.raises(InputError, match="no upstream URL"):
        download.source_url(Entry(key="tcga/a.txt", note="GDC portal"))
    assert download.source_url(Entry(key="tcga/a.txt"), "file:///srv/m") == "file:///srv/m/tcga/a.txt"


def test_fetch_verifies_and_writes_sidecar(server, tmp_path):
    server.files["/geo/GSE1/x.txt"] = PAYLOAD
    dest = tmp_path / "raw" / "geo/GSE1/x.txt"
    digest = download.fetch(_entry(), dest, mirror=server.url, backoff=0)
    assert dest.read_bytes() == PAYLOAD and digest == hashlib.sha256(PAYLOAD).hexdigest()
    assert (dest.parent / "x.txt.sha256").read_text() == f"{digest}  x.txt\n"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["x.txt", "x.txt.sha256"]


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    server.files["/geo/GSE1/x.txt"] = PAYLOAD[:-1] + b"X"
    dest = tmp_path / "x.txt"
    with pytest.raises(InputError) as err:
        download.fetch(_entry(), dest, mirror=server.url, backoff=0)
    msg = str(err.value)
    assert "geo/GSE1/x.txt" in msg and "sha256 mismatch" in msg
    assert hashlib.sha256(PAYLOAD).hexdigest() in msg
    assert hashlib.sha256(PAYLOAD[:-1] + b"X").hexdigest() in msg
    assert list(tmp_path.iterdir()) == []  # neither the output nor a temporary file is left


def test_size_mismatch_is_reported(server, tmp_path):
    server.files["/geo/GSE1/x.txt"] = PAYLOAD + b"more"
    with pytest.raises(InputError, match=f"expected {len(PAYLOAD)} bytes, got {len(PAYLOAD) + 4} bytes"):
        download.fetch(_entry(), tmp_path / "x.txt", mirror=server.url, backoff=0)
    assert list(tmp_path.iterdir()) == []


def test_unknown_checksum_is_measured_and_logged(server, tmp_path, caplog):
    server.files["/geo/GSE1/x.txt"] = PAYLOAD
    with caplog.at_level(logging.WARNING, logger="drugshift"):
        digest = download.fetch(_entry(sha256=None, size=None), tmp_path / "x.txt", mirror=server.url, backoff=0)
    assert digest in caplog.text and "pin it" in caplog.text


def test_retries_after_server_errors(server, tmp_path):
    server.files["/geo/GSE1/x.txt"] = PAYLOAD
    server.fail["/geo/GSE1/x.txt"] = 2
    download.fetch(_entry(), tmp_path / "x.txt", mirror=server.url, retries=3, backoff=0)
    assert server.requests["/geo/GSE1/x.txt"] == 3
    assert (tmp_path / "x.txt").read_bytes() == PAYLOAD


def test_gives_up_after_retries_and_fails_fast_on_404(server, tmp_path):
    server.files["/geo/GSE1/x.txt"] = PAYLOAD
    server.fail["/geo/GSE1/x.txt"] = 5
    with pytest.raises(InputError, match="after 2 attempt"):
        download.fetch(_entry(), tmp_path / "x.txt", mirror=server.url, retries=1, backoff=0)
    assert server.requests["/geo/GSE1/x.txt"] == 2
    with pytest.raises(InputError, match="HTTP 404"):
        download.fetch(_entry(key="geo/GSE1/missing.txt"), tmp_path / "m.txt", mirror=server.url, backoff=0)
    assert server.requests["/geo/GSE1/missing.txt"] == 1
    assert list(tmp_path.iterdir()) == []


def test_upstream_url_used_without_mirror(server, tmp_path):
    server.files["/some/where.txt"] = PAYLOAD
    download.fetch(_entry(url=server.url + "/some/where.txt"), tmp_path / "x.txt", backoff=0)
    assert (tmp_path / "x.txt").read_bytes() == PAYLOAD


# ------------------------------------------------------------------ extraction


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz" if path.name.endswith("gz") else "w") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return path


def test_extract_tar_and_zip(tmp_path):
    arch = _tar(tmp_path / "a.tar.gz", [(tarfile.TarInfo("d/one.txt"), b"1"), (tarfile.TarInfo("two.txt"), b"22")])
    names = download.extract(arch, tmp_path / "out")
    assert names == ["d/one.txt", "two.txt"]
    assert (tmp_path / "out/d/one.txt").read_bytes() == b"1"
    z = tmp_path / "b.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("x/y.csv", "a,b\n")
    assert download.extract(z, tmp_path / "zout") == ["x/y.csv"]


@pytest.mark.parametrize("name", ["/abs.txt", "../escape.txt", "d/../../escape.txt"])
def test_extract_refuses_escaping_paths(tmp_path, name):
    arch = _tar(tmp_path / "a.tar", [(tarfile.TarInfo("ok.txt"), b"1"), (tarfile.TarInfo(name), b"x")])
    with pytest.raises(InputError, match="refusing to extract"):
        download.extract(arch, tmp_path / "out" / "inner")
    assert not (tmp_path / "out" / "inner").exists()
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out" / "escape.txt").exists()
    assert not any(p.name.startswith(".inner") for p in (tmp_path / "out").iterdir())


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_extract_refuses_links(tmp_path, kind):
    link = tarfile.TarInfo("evil")
    link.type = kind
    link.linkname = "/etc/passwd"
    arch = _tar(tmp_path / "a.tar", [(link, None)])
    with pytest.raises(InputError, match="is a link"):
        download.extract(arch, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_extract_refuses_zip_slip(tmp_path):
    z = tmp_path / "b.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../../evil.txt", "x")
    with pytest.raises(InputError, match="contains '..'"):
        download.extract(z, tmp_path / "zout")
    assert not (tmp_path / "zout").exists()


# ------------------------------------------------------------------ faults: interrupted downloads, modes


def test_fetched_and_extracted_files_get_the_users_umask(server, tmp_path):
    server.files["/geo/GSE1/x.txt"] = PAYLOAD
    old = os.umask(0o022)
    try:
        dest = tmp_path / "x.txt"
        download.fetch(_entry(), dest, mirror=server.url, backoff=0)
        z = tmp_path / "b.zip"
        with zipfile.ZipFile(z, "w") as zf:
            zf.writestr("d/y.csv", "a,b\n")
        download.extract(z, tmp_path / "zout")
    finally:
        os.umask(old)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644  # not mkstemp's 0600
    assert stat.S_IMODE((tmp_path / "zout").stat().st_mode) == 0o755  # not mkdtemp's 0700
    assert stat.S_IMODE((tmp_path / "zout/d/y.csv").stat().st_mode) == 0o644


def test_interrupted_download_leaves_no_part_file(server, tmp_path, monkeypatch):
    server.files["/geo/GSE1/x.txt"] = PAYLOAD

    class Interrupted(io.BytesIO):
        def write(self, data):
            raise KeyboardInterrupt

    monkeypatch.setattr(download, "open", lambda *a, **k: Interrupted(), raising=False)
    with pytest.raises(KeyboardInterrupt):
        download.fetch(_entry(), tmp_path / "x.txt", mirror=server.url, backoff=0)
    assert list(tmp_path.iterdir()) == []


def test_sigterm_raises_so_cleanup_runs():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exit_:
        with download._terminate_as_exception():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
    assert exit_.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before


def test_part_file_of_a_killed_download_is_removed_by_the_next(server, tmp_path):
    server.files["/geo/GSE1/x.txt"] = PAYLOAD
    (tmp_path / ".x.txt.k1ll3d.part").write_bytes(b"half")  # what SIGKILL leaves behind
    (tmp_path / ".other.txt.abc.part").write_bytes(b"not ours")
    download.fetch(_entry(), tmp_path / "x.txt", mirror=server.url, backoff=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.txt.abc.part", "x.txt", "x.txt.sha256"]


def test_sigterm_during_a_real_download_leaves_no_part_file(tmp_path):
    """A download process stopped by SIGTERM (Snakemake, a scheduler) mid-transfer removes its
    .part file and exits 143."""
    import subprocess
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
            try:
                for _ in range(600):
                    self.wfile.write(b"0" * 65536)
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/big.bin"
    dest = tmp_path / "big.bin"
    code = (f"from drugshift.download import Entry, fetch; "
            f"fetch(Entry(key='x/big.bin', url={url!r}), {str(dest)!r}, retries=0)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > 0 for p in tmp_path.glob(".big.bin.*.part")):
            assert time.monotonic() < deadline and proc.poll() is None, "the download never started"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        proc.kill()
        httpd.shutdown()
        httpd.server_close()
    assert list(tmp_path.iterdir()) == []
