"""A local HTTP server of released files for the store tests of both suites (framework-free: stdlib + pytest).

Import the fixtures into a test module: ``from params_server import isolated_env, server  # noqa: F401``.
"""
from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

from afflib.core.released import ReleasedFile, ReleaseTable, use_table


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        server = self.server
        server.requests.append(self.path)
        mode, data = server.routes.get(self.path, ("status", 404))
        if mode == "status":
            self.send_error(data)
            return
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", data)
            self.end_headers()
            return
        if mode == "stall_headers":
            server.release.wait(30)
            return
        if mode == "slow":
            time.sleep(0.3)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if mode == "truncate":
            self.wfile.write(data[: len(data) // 2])
        elif mode == "stall_body":
            self.wfile.write(data[:1000])
            self.wfile.flush()
            server.release.wait(30)
        else:
            self.wfile.write(data)

    def log_message(self, *args):
        pass


class ParamsServer:
    """Threaded HTTP server on 127.0.0.1 serving registered byte strings and counting requests."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.routes, self.httpd.requests, self.httpd.release = {}, [], threading.Event()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def requests(self) -> List[str]:
        return self.httpd.requests

    def serve(self, path, data=b"", mode="ok"):
        self.httpd.routes["/" + path] = (mode, data)

    def close(self):
        self.httpd.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = ParamsServer()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test touches ~/.mxnet, a real download URL or a proxy; retries off unless a test turns them on."""
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "mxnet_home"))
    monkeypatch.delenv("AFFLIB_PARAMS_URL", raising=False)
    monkeypatch.delenv("AFFLIB_DOWNLOAD_TIMEOUT", raising=False)
    monkeypatch.setenv("AFFLIB_DOWNLOAD_RETRIES", "0")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def closed_port() -> int:
    """A port on 127.0.0.1 that nobody listens on (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def files_in(directory: Path) -> List[str]:
    return sorted(p.name for p in directory.rglob("*")) if directory.exists() else []


def released_entry(data: bytes, labels: str = "cifar100-fine", path: str = "params/test/tiny.params",
                   sha1: Optional[str] = None, model: str = "cifar_aff_resnet20") -> ReleasedFile:
    """A table row for ``data`` as a released CIFAR-100 file of ``model`` (100 outputs)."""
    return ReleasedFile(path=path, sha1=sha1 or git_blob_sha1(data), model=model, classes=100, labels=labels,
                        metric="top1_accuracy", published=50.0)


@contextlib.contextmanager
def serving_fine_and_coarse(server: ParamsServer, fine: bytes, coarse: bytes) -> Iterator[ReleaseTable]:
    """Serve two files and make them the fine- and coarse-label released files of cifar_aff_resnet20."""
    server.serve("params/test/fine.params", fine)
    server.serve("params/test/coarse.params", coarse)
    table = ReleaseTable([released_entry(fine, path="params/test/fine.params"),
                          released_entry(coarse, "cifar100-coarse", path="params/test/coarse.params")],
                         base_url=server.url)
    with use_table(table):
        yield table
