"""A tiny HTTP server on 127.0.0.1 for the download tests (test_download, test_mirror)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class LocalServer:
    """Serves ``files`` (URL path -> bytes), else the file at that path under ``root``; 404 for
    anything else. ``fail[path]``: how many more requests answer HTTP 500 first; ``requests[path]``
    counts requests. ``url`` is the base URL, without a trailing slash."""

    def __init__(self, root: Path | None = None):
        self.root = root
        self.files: dict[str, bytes] = {}
        self.fail: dict[str, int] = {}
        self.requests: dict[str, int] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.requests[self.path] = outer.requests.get(self.path, 0) + 1
                if outer.fail.get(self.path, 0) > 0:
                    outer.fail[self.path] -= 1
                    self.send_error(500, "try again")
                    return
                body = outer._body(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _body(self, path: str) -> bytes | None:
        if path in self.files:
            return self.files[path]
        if self.root is not None and (self.root / path.lstrip("/")).is_file():
            return (self.root / path.lstrip("/")).read_bytes()
        return None

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
