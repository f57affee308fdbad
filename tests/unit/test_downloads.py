"""Downloads (weights and datasets) time out instead of hanging, check hashes, and never leave partial files.

Only loopback servers (127.0.0.1, in threads) are used: one that accepts connections and never answers, and a tiny
HTTP server; no other network. Proxy variables are cleared so urllib talks to them directly.
"""

import dataclasses
import hashlib
import http.server
import io
import socket
import subprocess
import sys
import threading
import time
import zipfile

import pytest

from srlib import download, weights
from srlib.data import datasets


@pytest.fixture(autouse=True)
def _direct_loopback(monkeypatch, tmp_path):
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv(download.TIMEOUT_ENV, "1")


@pytest.fixture
def silent_url():
    """URL of a TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop, conns = threading.Event(), []

    def accept():
        while not stop.is_set():
            try:
                conns.append(server.accept()[0])
            except OSError:  # the 0.2 s accept timeout: look at `stop` again
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/vgg19-dcbb9e9d.pth"
    stop.set()
    thread.join(2)
    for c in conns:
        c.close()
    server.close()


@pytest.fixture
def serve():
    """``serve(body, name, length=None) -> URL`` of a 127.0.0.1 HTTP server answering every GET with ``body``."""
    servers = []

    def start(body: bytes, name: str = "file.bin", length: int | None = None) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep the test output clean
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/{name}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _point_vgg19_at(monkeypatch, url: str, sha256: str | None = None) -> None:
    entry = weights.WEIGHTS["vgg19"]
    monkeypatch.setitem(
        weights.WEIGHTS, "vgg19", dataclasses.replace(entry, url=url, sha256=sha256 or entry.sha256)
    )


def _leftovers(tmp_path):
    return sorted(p.name for p in tmp_path.rglob("*.part"))


def test_fetch_times_out_on_a_silent_server(monkeypatch, tmp_path, silent_url):
    _point_vgg19_at(monkeypatch, silent_url)
    start = time.monotonic()
    with pytest.raises(weights.WeightsUnavailable) as err:
        weights.fetch("vgg19", progress=False)
    assert time.monotonic() - start < 10
    msg = str(err.value)
    assert "timed out after 1 s" in msg and silent_url in msg
    assert str(weights.local_path("vgg19")) in msg  # where to put the file by hand
    assert not weights.local_path("vgg19").exists() and _leftovers(tmp_path) == []


def test_weights_cli_fetch_reports_the_timeout(monkeypatch, tmp_path, silent_url, capsys):
    _point_vgg19_at(monkeypatch, silent_url)
    assert weights.main(["fetch", "vgg19"]) == 1
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("vgg19"))
    assert "FAILED" in row and "timed out" in row and silent_url in row
    assert _leftovers(tmp_path) == []


def test_hash_mismatch_is_refused_and_nothing_is_left(monkeypatch, tmp_path, serve):
    _point_vgg19_at(monkeypatch, serve(b"<html>proxy login page</html>", "vgg19-dcbb9e9d.pth"))
    with pytest.raises(weights.WeightsUnavailable, match="does not match"):
        weights.fetch("vgg19", progress=False)
    assert not weights.local_path("vgg19").exists() and _leftovers(tmp_path) == []


def test_matching_download_lands_in_place(monkeypatch, tmp_path, serve):
    body = b"pretend state dict" * 1000
    prefix = hashlib.sha256(body).hexdigest()[
        :8
    ]  # the torchvision file-name convention: a published prefix
    _point_vgg19_at(monkeypatch, serve(body, "vgg19-dcbb9e9d.pth"), sha256=prefix)
    path = weights.fetch("vgg19", progress=False)
    assert path == weights.local_path("vgg19") and path.read_bytes() == body
    assert weights.verify("vgg19")[0] and _leftovers(tmp_path) == []


def test_truncated_body_is_refused(tmp_path, serve):
    url = serve(b"only part", length=1000)  # the server promises 1000 bytes and hangs up after 9
    with pytest.raises(download.DownloadError, match=f"could not download {url}"):
        download.download(url, tmp_path / "x.bin", progress=False)
    assert not (tmp_path / "x.bin").exists() and _leftovers(tmp_path) == []


def test_timeout_setting(monkeypatch):
    assert download.timeout_seconds(5) == 5.0
    assert download.timeout_seconds() == 1.0  # from the fixture's SRLIB_DOWNLOAD_TIMEOUT
    monkeypatch.delenv(download.TIMEOUT_ENV)
    assert download.timeout_seconds() == download.DEFAULT_TIMEOUT
    monkeypatch.setenv(download.TIMEOUT_ENV, "soon")
    with pytest.raises(download.DownloadError, match="SRLIB_DOWNLOAD_TIMEOUT='soon'"):
        download.timeout_seconds()


def test_dataset_fetch_downloads_checks_and_extracts(monkeypatch, tmp_path, serve):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("tiny_hr/0001.txt", "a photo")
    body = buf.getvalue()
    url = serve(body, "tiny.zip")
    monkeypatch.setitem(
        datasets.RECIPES,
        "tiny",
        datasets.Recipe("tiny", url, hashlib.sha256(body).hexdigest(), "tiny_hr", "test", "1 KB"),
    )
    out = datasets.fetch("tiny", dest=tmp_path / "raw", progress=False)
    assert (out / "0001.txt").read_text() == "a photo" and _leftovers(tmp_path) == []


def test_data_cli_fetch_times_out(monkeypatch, tmp_path, silent_url, capsys):
    monkeypatch.setattr(datasets, "raw_dir", lambda: tmp_path / "raw")
    monkeypatch.setitem(
        datasets.RECIPES,
        "tiny",
        datasets.Recipe(
            "tiny",
            silent_url.replace("vgg19-dcbb9e9d.pth", "tiny.zip"),
            None,
            "tiny_hr",
            "test",
            "1 KB",
        ),
    )
    assert datasets.main(["fetch", "tiny"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: could not download http://127.0.0.1:") and "timed out" in err
    assert str(tmp_path / "raw" / "tiny.zip") in err  # where to put it by hand
    assert list((tmp_path / "raw").iterdir()) == []


def test_importing_srlib_opens_no_connection():
    """Every srlib module imports with sockets disabled (a fresh process: nothing is imported yet)."""
    code = (
        "import pkgutil, importlib, socket\n"
        "def refuse(*a, **k):\n"
        "    raise RuntimeError(f'network used at import time: {a}')\n"
        "socket.socket.connect = socket.socket.connect_ex = refuse\n"
        "socket.getaddrinfo = socket.create_connection = refuse\n"
        "import srlib\n"
        "for m in pkgutil.walk_packages(srlib.__path__, 'srlib.'):\n"
        "    if m.name != 'srlib.__main__':\n"
        "        importlib.import_module(m.name)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
