"""Image files for the upscaler: read and write grey, grey+alpha, RGB and RGBA at 8 and 16 bits.

:func:`read_image` decodes a whole file (EXIF orientation applied; truncated or non-image files raise
:class:`srlib.data.images.ImageReadError` naming the file). :class:`PNGWriter` writes a PNG band of rows by band of
rows, so an upscaled image is never held whole in memory; :func:`write_image` writes an array (PNG through the
writer, TIFF through OpenCV), always through a temporary file renamed on success.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from srlib.data.images import ImageReadError, apply_orientation, exif_orientation

# ---------------------------------------------------------------------------------------------------------------------
# files


class PNGWriter:
    """Write a PNG band of rows by band of rows, so that no full image array is needed; 8 or 16 bit, grey (colour
    type 0), grey+alpha (4), RGB (2) or RGBA (6).

    PNG: the 8-byte signature, an ``IHDR`` chunk, ``IDAT`` chunks holding together one zlib stream of the rows (each
    row prefixed by its filter type), ``IEND``; a chunk is length, type, data, CRC-32 of type + data. Samples are
    big-endian. Rows use the *Up* filter (byte minus the byte above, modulo 256: one numpy subtraction) and zlib
    level 1 with the RLE strategy, as OpenCV's defaults: about OpenCV's speed and file size on photos (no filter
    makes smooth images ~2x larger).

    The file is written as ``.NAME.partial.png`` in the same folder and renamed by :meth:`close` once every row is
    there; :meth:`abort` (or an exception inside ``with``) removes it, so a failure never leaves a partial image.
    """

    _COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}
    _IDAT_BYTES = 1 << 20  # compressed bytes gathered per IDAT chunk

    def __init__(self, path: str | Path, width: int, height: int, channels: int, dtype):
        dtype = np.dtype(dtype)
        if dtype not in (np.uint8, np.uint16):
            raise ValueError(f"PNGWriter writes uint8 or uint16 samples, got {dtype}")
        if channels not in self._COLOUR_TYPE:
            raise ValueError(
                f"PNGWriter writes 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA) channels, got {channels}"
            )
        if not (0 < width < 2**31 and 0 < height < 2**31):
            raise ValueError(f"PNG sides must be in [1, 2^31), got {width}x{height}")
        self.path = Path(path)
        self.width, self.height, self.channels, self.dtype = width, height, channels, dtype
        self.rows_written = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self._file = open(self._tmp, "wb")  # closed by close() / abort(), or by `with`
        self._z = zlib.compressobj(1, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._prev: np.ndarray | None = (
            None  # the last row's bytes: the Up filter of the next band's first row
        )
        try:
            self._file.write(b"\x89PNG\r\n\x1a\n")
            bits = 8 * dtype.itemsize
            self._chunk(
                b"IHDR",
                struct.pack(">IIBBBBB", width, height, bits, self._COLOUR_TYPE[channels], 0, 0, 0),
            )
        except BaseException:
            self.abort()
            raise

    def _chunk(self, kind: bytes, data: bytes) -> None:
        self._file.write(struct.pack(">I", len(data)) + kind)
        self._file.write(data)
        self._file.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))))

    def _idat(self, data: bytes, flush: bool = False) -> None:
        if data:
            self._pending.append(data)
            self._pending_len += len(data)
        if self._pending and (flush or self._pending_len >= self._IDAT_BYTES):
            self._chunk(b"IDAT", b"".join(self._pending))
            self._pending, self._pending_len = [], 0

    def write(self, rows: np.ndarray) -> None:
        """Append ``rows``: ``(n, width, channels)`` (or ``(n, width)`` for grey) of the writer's dtype."""
        rows = np.asarray(rows)
        if rows.ndim == 2 and self.channels == 1:
            rows = rows[..., None]
        if rows.shape[1:] != (self.width, self.channels) or rows.dtype != self.dtype:
            raise ValueError(
                f"PNGWriter({self.path}): rows of shape (n, {self.width}, {self.channels}) {self.dtype} "
                f"expected, got {rows.shape} {rows.dtype}"
            )
        n = rows.shape[0]
        if self.rows_written + n > self.height:
            raise ValueError(
                f"PNGWriter({self.path}): {self.rows_written + n} rows written, the image has "
                f"{self.height}"
            )
        if n == 0:
            return
        raw = np.ascontiguousarray(
            rows.astype(">u2", copy=False) if self.dtype == np.uint16 else rows
        )
        raw = raw.reshape(n, -1).view(np.uint8)
        filtered = np.empty((n, raw.shape[1] + 1), dtype=np.uint8)
        filtered[:, 0] = 2  # filter type Up
        np.subtract(
            raw[1:], raw[:-1], out=filtered[1:, 1:]
        )  # uint8 arithmetic wraps modulo 256, as PNG's
        if self._prev is None:
            filtered[0, 1:] = raw[0]  # the row above the first row is zero
        else:
            np.subtract(raw[0], self._prev, out=filtered[0, 1:])
        self._prev = raw[-1].copy()
        self._idat(self._z.compress(memoryview(filtered).cast("B")))
        self.rows_written += n

    def close(self) -> Path:
        """Finish the file and move it to ``path``; raises (and removes it) if rows are missing."""
        try:
            if self.rows_written != self.height:
                raise ValueError(
                    f"PNGWriter({self.path}): {self.rows_written} of {self.height} rows written"
                )
            self._idat(self._z.flush(), flush=True)
            self._chunk(b"IEND", b"")
            self._file.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Drop the partial file (idempotent)."""
        self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> PNGWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _raw_mode(im: Image.Image) -> str | None:
    """The decoder's raw mode before ``load()``, e.g. ``"RGB;16B"`` for a 48-bit PNG, ``"RGB;16N"`` for a TIFF.

    PNG decoders take the raw mode as their argument, libtiff a tuple that starts with it.
    """
    if not im.tile:
        return None
    args = im.tile[0][3]
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return args if isinstance(args, str) else None


def read_image(path: str | Path) -> np.ndarray:
    """Decode ``path`` fully into ``(H, W)`` / ``(H, W, C)`` uint8 or uint16, RGB(A) order, keeping grey, alpha and
    16 bits, upright by its EXIF orientation. Truncated or non-image files raise :class:`srlib.data.images.ImageReadError`
    naming the file."""
    path = Path(path)
    sixteen_color = False
    try:
        with Image.open(path) as im:
            raw = _raw_mode(im)
            im.load()  # decodes everything: a truncated file raises here
            mode = im.mode
            orientation = exif_orientation(
                im
            )  # after load(): a PNG's eXIf chunk may follow the pixels
            if mode in ("RGB", "RGBA") and raw is not None and ";16" in raw:
                # PIL has no 16-bit colour mode and would drop 8 bits (a 16-bit grey+alpha PNG is "LA;16B" read as
                # RGBA); re-read with OpenCV
                sixteen_color = True
                grey_alpha = raw.startswith("LA")
                arr = None
            elif mode.startswith("I;16") or mode == "I":
                arr = np.clip(np.asarray(im), 0, 65535).astype(np.uint16)
            elif mode in ("L", "LA", "RGB", "RGBA"):
                arr = np.asarray(im).copy()
            elif mode in ("1", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "La", "RGBa"):
                has_alpha = mode in ("PA", "La", "RGBa") or "transparency" in im.info
                arr = np.asarray(
                    im.convert("RGBA" if has_alpha else ("L" if mode == "1" else "RGB"))
                ).copy()
            else:
                raise ValueError(f"unsupported image mode {mode!r}")
    except Exception as exc:  # PIL raises several types for truncated / non-image files
        raise ImageReadError(f"cannot read image {path}: {exc}") from exc
    if sixteen_color:
        arr = cv2.imread(
            str(path), cv2.IMREAD_UNCHANGED
        )  # UNCHANGED: OpenCV ignores the EXIF orientation here
        if arr is None:
            raise ImageReadError(f"cannot read image {path}: OpenCV could not decode it")
        if grey_alpha:  # OpenCV expands grey+alpha to BGRA with equal colour channels
            arr = np.ascontiguousarray(arr[..., [0, 3]])
        else:
            arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return apply_orientation(arr, orientation)


def write_image(arr: np.ndarray, path: str | Path) -> Path:
    """Write an array from :func:`read_image` / :func:`upscale_array` (8 or 16 bit; PNG/TIFF keep both and alpha).

    PNG goes through :class:`PNGWriter` (grey+alpha stays grey+alpha); other formats through OpenCV (grey+alpha
    becomes RGBA there). Written to a temporary file in the same folder and renamed, so a failure never leaves a
    partial image. NB: for OpenCV, converts RGB(A) to BGR(A) *in place* to save a copy of a large output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if arr.dtype not in (np.uint8, np.uint16):
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if path.suffix.lower() == ".png":
        with PNGWriter(
            path, arr.shape[1], arr.shape[0], 1 if arr.ndim == 2 else arr.shape[2], arr.dtype
        ) as png:
            for r0 in range(
                0, arr.shape[0], 256
            ):  # in bands: bounded temporaries for the byte order and filter
                png.write(arr[r0 : r0 + 256])
        return path
    if arr.ndim == 3 and arr.shape[2] == 2:  # grey + alpha: OpenCV writes BGRA only
        arr = np.concatenate([np.repeat(arr[..., :1], 3, axis=2), arr[..., 1:]], axis=2)
    if arr.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if arr.shape[2] == 4 else cv2.COLOR_RGB2BGR
        arr = cv2.cvtColor(arr, code, dst=arr)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        if not cv2.imwrite(str(tmp), arr):
            raise OSError(f"OpenCV could not write {path}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
