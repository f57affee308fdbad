"""One HTTP(S) download helper for pretrained weights (:mod:`srlib.weights`) and datasets (:mod:`srlib.data.datasets`).

:func:`download` never hangs and never leaves a half-written file under the final name:

* every socket operation (connect, each read) gives up after ``timeout`` seconds -- default
  :data:`DEFAULT_TIMEOUT`, overridden by the environment variable ``SRLIB_DOWNLOAD_TIMEOUT`` -- so a proxy or server
  that accepts the connection and then says nothing is an error after that long, not a stuck pipeline;
* the body streams in chunks into ``<name>.part`` in the destination folder (same file system, so the final move is
  atomic), hashed on the way; the file is moved onto ``dest`` only when complete (``Content-Length`` bytes, when the
  server sent one) and its sha256 matches;
* any failure, Ctrl-C included, deletes the ``.part`` file and raises :class:`DownloadError` with the URL and the
  reason in its first sentence (callers add where to put the file by hand).

A slow but live server is not cut off: the timeout bounds each wait for data, not the whole transfer.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_TIMEOUT = 30.0  # seconds per connect / read; generous for a slow mirror, short enough to notice a dead one
TIMEOUT_ENV = "SRLIB_DOWNLOAD_TIMEOUT"
CHUNK = 1 << 20


class DownloadError(OSError):
    """A download failed (network, HTTP status, timeout, truncated body, hash mismatch); nothing was left behind."""


def timeout_seconds(timeout: float | None = None) -> float:
    """``timeout`` if given, else ``$SRLIB_DOWNLOAD_TIMEOUT``, else :data:`DEFAULT_TIMEOUT`."""
    if timeout is not None:
        value, origin = timeout, "timeout"
    else:
        raw = os.environ.get(TIMEOUT_ENV, "").strip()
        if not raw:
            return DEFAULT_TIMEOUT
        try:
            value, origin = float(raw), TIMEOUT_ENV
        except ValueError:
            raise DownloadError(
                f"{TIMEOUT_ENV}={raw!r} is not a number of seconds; set it to e.g. 60"
            ) from None
    if not value > 0:
        raise DownloadError(f"{origin} must be a positive number of seconds, got {value!r}")
    return float(value)


def _reason(exc: BaseException, timeout: float) -> str:
    """A short human reason for a network failure (the exception types differ between connect and read)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    inner = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(inner, TimeoutError | socket.timeout):
        return (
            f"timed out after {timeout:g} s without an answer from the server "
            f"(set {TIMEOUT_ENV} to wait longer)"
        )
    if isinstance(inner, http.client.IncompleteRead):
        return f"connection closed after {len(inner.partial)} bytes of the response"
    text = " ".join(str(inner).split()) or type(inner).__name__
    return f"{type(inner).__name__}: {text}" if isinstance(inner, BaseException) else text


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    timeout: float | None = None,
    sha256: str | None = None,
    progress: bool = True,
) -> str:
    """Fetch ``url`` into ``dest`` (atomically) and return the file's sha256 hex digest.

    ``sha256`` is the full digest or a published prefix (torchvision names its files with the first 8 hex digits);
    ``None`` accepts any content (the caller prints the digest to record it). ``progress`` shows a tqdm bar on stderr.
    """
    dest = Path(dest)
    seconds = timeout_seconds(timeout)
    expected = sha256.lower() if sha256 else None
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(
        dest.name + ".part"
    )  # fixed name: a rerun after a kill overwrites the stale one
    digest = hashlib.sha256()
    received = 0
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "srlib-download"})
        try:
            with (
                urllib.request.urlopen(request, timeout=seconds) as response,
                open(part, "wb") as out,
            ):
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                bar = _progress_bar(total, dest.name, progress)
                try:
                    while block := response.read(CHUNK):
                        out.write(block)
                        digest.update(block)
                        received += len(block)
                        if bar is not None:
                            bar.update(len(block))
                finally:
                    if bar is not None:
                        bar.close()
        except (
            OSError,
            http.client.HTTPException,
            ValueError,
        ) as exc:  # URLError, timeouts, resets, bad URL
            raise DownloadError(f"could not download {url}: {_reason(exc, seconds)}") from exc
        if total is not None and received != total:
            raise DownloadError(
                f"could not download {url}: got {received} of {total} bytes (connection cut)"
            )
        hexdigest = digest.hexdigest()
        if expected and not hexdigest.startswith(expected):
            raise DownloadError(
                f"refused {url}: sha256 {hexdigest} of the {received} bytes received does not match the expected "
                f"{expected} (file discarded; a proxy error page or a changed upload)"
            )
        os.replace(part, dest)
        return hexdigest
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _progress_bar(total: int | None, name: str, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a nicety
        return None
    return tqdm(
        total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name, file=sys.stderr
    )
