"""Checking and extracting a package archive before anything of it is trusted.

Contains no business logic: the caps (``Limits``), the checks that need only the
zip's directory (sizes, names, depth, links, encryption, one top-level folder), and
extraction that counts what it writes against the same cap. Used by
``translate.packages``, which installs.
"""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

MAX_ARCHIVE_BYTES = 1 << 30  # 1 GiB compressed (real packages: 60–250 MB)
MAX_UNPACKED_BYTES = 3 << 30
MAX_FILES = 2000
#: unpacked bytes per archive byte: real packages (CTranslate2 weights, SentencePiece)
#: barely compress, a zip bomb compresses a thousandfold
MAX_RATIO = 10
#: archives this small may unpack to this much whatever the ratio
RATIO_FLOOR_BYTES = 16 << 20
MAX_NAME_CHARS = 100  # one path component
MAX_PATH_CHARS = 400  # a whole entry name
MAX_DEPTH = 10  # folders in an entry name (real packages: 5)


@dataclass(frozen=True)
class Limits:
    """Size caps for a package archive (a parameter, so tests can use small ones)."""

    archive_bytes: int = MAX_ARCHIVE_BYTES
    unpacked_bytes: int = MAX_UNPACKED_BYTES
    files: int = MAX_FILES
    ratio: int = MAX_RATIO

    def unpacked_cap(self, archive_size: int) -> int:
        """The most an archive of ``archive_size`` bytes may unpack to."""
        return min(self.unpacked_bytes, max(self.ratio * archive_size, RATIO_FLOOR_BYTES))


DEFAULT_LIMITS = Limits()
_FOLDER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_archive(path: Path, limits: Limits) -> tuple[zipfile.ZipFile, str]:
    """The open archive and its one top-level folder, after checking everything that
    can be checked before writing (raises ``ModelError``)."""
    max_bytes = limits.archive_bytes
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if size > max_bytes:
        raise ModelError(f"{path}: {size} bytes, more than the limit of {max_bytes}")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{path}: not an Argos package (not a zip archive): {exc}") from exc
    try:
        infos = zf.infolist()
        if not infos:
            raise ModelError(f"{path}: empty archive")
        if len(infos) > limits.files:
            raise ModelError(f"{path}: {len(infos)} entries, more than {limits.files}")
        total = sum(i.file_size for i in infos)
        cap = limits.unpacked_cap(size)
        if total > cap:
            raise ModelError(
                f"{path}: unpacks to {total} bytes, more than {cap}"
                f" ({limits.ratio} times the archive, at most {limits.unpacked_bytes})"
            )
        tops: set[str] = set()
        seen: set[str] = set()
        for info in infos:
            name = info.filename
            parts = name.rstrip("/").split("/")
            if (
                not name
                or "\\" in name
                or "\0" in name
                or name.startswith("/")
                or re.match(r"^[A-Za-z]:", name)
                or any(p in ("", ".", "..") for p in parts)
            ):
                raise ModelError(f"{path}: unsafe path in archive: {name!r}")
            if (
                len(name) > MAX_PATH_CHARS
                or len(parts) > MAX_DEPTH
                or any(len(p.encode("utf-8", "replace")) > MAX_NAME_CHARS for p in parts)
            ):
                raise ModelError(
                    f"{path}: entry name too long or too deep (at most {MAX_DEPTH} levels of"
                    f" {MAX_NAME_CHARS} bytes, {MAX_PATH_CHARS} in all): {name[:120]!r}…"
                )
            mode = info.external_attr >> 16
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no type recorded
                raise ModelError(f"{path}: links and special files are not allowed: {name!r}")
            if info.flag_bits & 0x1:
                raise ModelError(f"{path}: encrypted entry: {name!r}")
            if name.rstrip("/").lower() in seen:
                raise ModelError(f"{path}: duplicate entry: {name!r}")
            seen.add(name.rstrip("/").lower())
            if len(parts) == 1 and not info.is_dir():
                raise ModelError(f"{path}: file outside the package folder: {name!r}")
            tops.add(parts[0])
        if len(tops) != 1:
            raise ModelError(f"{path}: expected one top-level folder, found {sorted(tops)}")
        top = tops.pop()
        if not _FOLDER_RE.match(top):
            raise ModelError(f"{path}: unsafe package folder name {top!r}")
        if f"{top}/metadata.json" not in {i.filename for i in infos}:
            raise ModelError(f"{path}: no {top}/metadata.json")
        return zf, top
    except BaseException:
        zf.close()
        raise


def extract(zf: zipfile.ZipFile, dest: Path, source: Path, limits: Limits) -> None:
    """Extract, counting what is written against the cap (the sizes an archive
    declares are not trusted alone)."""
    cap = limits.unpacked_cap(source.stat().st_size)
    written = 0
    for info in zf.infolist():
        target = dest.joinpath(*info.filename.rstrip("/").split("/"))
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "xb") as out:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > cap:
                        raise ModelError(f"{source}: unpacks to more than {cap} bytes")
                    out.write(chunk)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
            raise ModelError(f"{source}: damaged archive at {info.filename!r}: {exc}") from exc
        except OSError as exc:  # disk full, a name the file system refuses
            raise ModelError(
                f"{source}: cannot extract {info.filename[:120]!r}: {exc.strerror or exc}"
            ) from exc
