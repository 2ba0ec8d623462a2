"""Installing, listing and removing Argos packages, safely.

Packages live in one folder (``models.dir``), one sub-folder per package, laid out
exactly as argostranslate lays them out (so argostranslate itself can use the same
folder). Every install, whatever the origin (package index by language pair, URL,
file, folder of files), goes through one path:

1. the archive is checked before anything is written: a zip, under the size caps
   (the unpacked size at most ``Limits.ratio`` times the archive's and at most
   ``Limits.unpacked_bytes``), one top-level folder, no absolute or ``..`` paths,
   names and depth within bounds, no links or special files, not encrypted, not
   too many files;
2. it is extracted into a staging folder *inside* the models folder (same file
   system) while counting bytes against the same cap;
3. the package is verified: ``metadata.json`` present and consistent (codes, version,
   type, what the index promised, and the pair its folder name claims), argostranslate
   reads it, the SentencePiece model and the CTranslate2 model load and translate a
   word;
4. it is moved into place with ``rename`` (atomic) under a folder name made from its
   metadata (``translate-de_en-1_0``), never the archive's, and older packages of the
   same pair are moved out and deleted. A running engine notices the change on its
   next call (``fingerprint``).

A bad package is one ``ModelError``; nothing else is installed or removed.

Installs are serialized by a lock file. Downloads (index, packages) are ours, through
``syncd.net.download``, bounded in time and size: argostranslate's own index fetch
only logs a failure, and its download cache ignores versions.

argostranslate reads ``ARGOS_*``/``XDG_*`` once at import and creates folders under
``$HOME``; it is imported only here (``_argos``), pointed at a private folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

from .. import logs
from ..errors import ModelError, NetError
from .archive import DEFAULT_LIMITS, MAX_ARCHIVE_BYTES, Limits, check_archive, extract

log = logs.get(__name__)

MAX_INDEX_BYTES = 16 << 20
MAX_METADATA_BYTES = 1 << 20
DOWNLOAD_TIMEOUT = 60.0
PIVOT = "en"

_CODE_RE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z]{2,4})?$")
_VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$")
#: the pair a folder name claims: translate-de_en-1_0, de_en
_FOLDER_PAIR_RE = re.compile(r"(?:^|[-_.])([a-z]{2,3})_([a-z]{2,3})(?:$|[-_.])")


@dataclass(frozen=True)
class PackageInfo:
    name: str  # "translate-de_en"
    from_code: str
    to_code: str
    version: str
    size_bytes: int
    path: Path
    target_prefix: str = ""
    #: changes whenever the installed files change (reinstall, update)
    stamp: str = ""

    @property
    def ref(self) -> str:
        """``translate-de_en@1.0``: names the model in translations and the memory."""
        return f"{self.name}@{self.version}"


def code_of(language: str) -> str:
    """The Argos code for a syncd language (Traditional Chinese is made from ``zh``)."""
    return "zh" if language == "zh-Hant" else language


def install_command(from_code: str, to_code: str) -> str:
    return f"syncd models install {code_of(from_code)} {code_of(to_code)}"


# ------------------------------------------------------------------------- listing


def _package_dirs(models_dir: Path) -> list[Path]:
    try:
        entries = sorted(os.scandir(models_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    return [
        Path(e.path)
        for e in entries
        if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
    ]


def _stat_key(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return "-"
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


def fingerprint(models_dir: Path) -> tuple[tuple[str, str], ...]:
    """Cheap summary of what is installed: changes when a package is added, removed
    or replaced (a few ``stat`` calls per package)."""
    return tuple(
        (
            d.name,
            "|".join(_stat_key(p) for p in (d, d / "metadata.json", d / "model" / "model.bin")),
        )
        for d in _package_dirs(Path(models_dir))
    )


def _read_metadata(folder: Path) -> dict[str, Any]:
    path = folder / "metadata.json"
    try:
        if path.stat().st_size > MAX_METADATA_BYTES:
            raise ModelError(f"{path}: metadata.json is larger than {MAX_METADATA_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{folder}: no metadata.json") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable metadata.json: {exc}") from exc
    except RecursionError as exc:  # [[[[…]]]] nested deeper than the parser goes
        raise ModelError(f"{path}: unreadable metadata.json: nested too deeply") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: metadata.json is not a JSON object")
    return data


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _info(folder: Path) -> PackageInfo:
    meta = _read_metadata(folder)
    problems = _metadata_problems(meta)
    if problems:
        raise ModelError(f"{folder / 'metadata.json'}: {'; '.join(problems)}")
    name = f"{meta.get('type', 'translate')}-{meta['from_code']}_{meta['to_code']}"
    return PackageInfo(
        name=name,
        from_code=meta["from_code"],
        to_code=meta["to_code"],
        version=str(meta["package_version"]),
        size_bytes=_size(folder),
        path=folder,
        target_prefix=str(meta.get("target_prefix") or ""),
        stamp="|".join(
            _stat_key(p) for p in (folder, folder / "metadata.json", folder / "model" / "model.bin")
        ),
    )


def installed(models_dir: Path) -> list[PackageInfo]:
    """Installed translate packages, by pair (broken folders are logged and skipped)."""
    out = []
    for d in _package_dirs(Path(models_dir)):
        try:
            out.append(_info(d))
        except ModelError as exc:
            log.warning("model-skipped", path=str(d), reason=str(exc))
    return sorted(out, key=lambda p: (p.from_code, p.to_code, _version_key(p.version)))


def _version_key(version: str) -> tuple[Any, ...]:
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(version), version)
    except InvalidVersion:
        return (0, version, version)


def newest(packages: Sequence[PackageInfo], from_code: str, to_code: str) -> PackageInfo | None:
    found = [p for p in packages if (p.from_code, p.to_code) == (from_code, to_code)]
    return max(found, key=lambda p: _version_key(p.version)) if found else None


def route(
    packages: Sequence[PackageInfo], from_code: str, to_code: str
) -> list[PackageInfo] | None:
    """The packages that translate from → to: the direct one, else two legs through
    English; None when not installed."""
    src, dst = code_of(from_code), code_of(to_code)
    direct = newest(packages, src, dst)
    if direct is not None:
        return [direct]
    if PIVOT in (src, dst):
        return None
    first, second = newest(packages, src, PIVOT), newest(packages, PIVOT, dst)
    return [first, second] if first and second else None


# -------------------------------------------------------------------- verification


def _argos() -> ModuleType:
    """``argostranslate.package``, imported with its folders kept out of ``$HOME``."""
    if "argostranslate.package" not in sys.modules:
        private = Path(tempfile.gettempdir()) / f"syncd-argos-{os.getuid()}"
        saved = {
            k: os.environ.get(k) for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")
        }
        for k, v in saved.items():
            if v is None:
                os.environ[k] = str(private / k.lower())
        try:
            import argostranslate.package  # noqa: F401
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
    return sys.modules["argostranslate.package"]


def _metadata_problems(meta: dict[str, Any], expect: dict[str, Any] | None = None) -> list[str]:
    problems = []
    for key in ("from_code", "to_code"):
        value = meta.get(key)
        if not isinstance(value, str) or not _CODE_RE.match(value):
            problems.append(f"{key} missing or not a language code: {value!r}")
    version = meta.get("package_version")
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        problems.append(f"package_version missing or malformed: {version!r}")
    if meta.get("type", "translate") != "translate":
        problems.append(f"type is {meta.get('type')!r}, not 'translate'")
    if not problems and meta["from_code"] == meta["to_code"]:
        problems.append("from_code and to_code are the same")
    prefix = meta.get("target_prefix", "")
    if prefix is not None and not isinstance(prefix, str):
        problems.append("target_prefix is not a string")
    for key, want in (expect or {}).items():
        if meta.get(key) != want:
            problems.append(f"{key} is {meta.get(key)!r}, the index says {want!r}")
    return problems


def verify_folder(folder: Path, expect: dict[str, Any] | None = None) -> PackageInfo:
    """Check an extracted package: metadata, files, and that the models load and run."""
    meta = _read_metadata(folder)
    problems = _metadata_problems(meta, expect)
    if problems:
        raise ModelError(f"{folder.name}: metadata.json: {'; '.join(problems)}")
    if not (folder / "sentencepiece.model").is_file():
        hint = (
            " (it has bpe.model: BPE packages are not supported)"
            if (folder / "bpe.model").exists()
            else ""
        )
        raise ModelError(f"{folder.name}: no sentencepiece.model{hint}")
    if not (folder / "model" / "model.bin").is_file():
        raise ModelError(f"{folder.name}: no model/model.bin (not a CTranslate2 model)")
    try:
        _argos().Package(folder)
    except Exception as exc:  # argostranslate raises bare Exceptions
        raise ModelError(f"{folder.name}: argostranslate cannot read it: {exc}") from exc
    import ctranslate2
    import sentencepiece as spm

    try:
        sp = spm.SentencePieceProcessor(model_file=str(folder / "sentencepiece.model"))
        pieces = sp.encode("Test", out_type=str) or ["▁"]
    except (OSError, RuntimeError) as exc:
        raise ModelError(f"{folder.name}: sentencepiece.model does not load: {exc}") from exc
    try:
        translator = ctranslate2.Translator(
            str(folder / "model"), device="cpu", inter_threads=1, intra_threads=1
        )
        translator.translate_batch([pieces], beam_size=1, max_decoding_length=8)
        del translator
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelError(f"{folder.name}: the CTranslate2 model does not load: {exc}") from exc
    return _info(folder)


def folder_name(info: PackageInfo) -> str:
    """The folder a package is installed in, made from its metadata (as Argos names
    its archives): ``translate-de_en-1_0``."""
    version = re.sub(r"[^A-Za-z0-9_-]", "_", info.version)
    return f"{info.name}-{version}"


def _base(code: str) -> str:
    return re.split(r"[-_]", code)[0]


def _claimed_pair(folder: str) -> tuple[str, str] | None:
    m = _FOLDER_PAIR_RE.search(folder)
    return (m.group(1), m.group(2)) if m else None


# ----------------------------------------------------------------------- installing


@contextlib.contextmanager
def _locked(models_dir: Path) -> Iterator[None]:
    import fcntl

    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            for stale in models_dir.glob(".staging-*"):  # left by an install that crashed
                shutil.rmtree(stale, ignore_errors=True)
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _install_archive(
    models_dir: Path,
    archive: Path,
    expect: dict[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> PackageInfo:
    zf, top = check_archive(archive, limits)
    with zf, _locked(models_dir):
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=models_dir))
        try:
            extract(zf, staging, archive, limits)
            info = verify_folder(staging / top, expect)
            claimed = _claimed_pair(top)
            if claimed is not None and claimed != (_base(info.from_code), _base(info.to_code)):
                raise ModelError(
                    f"{archive}: its folder {top!r} names {claimed[0]}→{claimed[1]} but its"
                    f" metadata.json says {info.from_code}→{info.to_code}"
                )
            name = folder_name(info)
            final = models_dir / name
            pkgs = installed(models_dir)
            old = [p for p in pkgs if (p.from_code, p.to_code) == (info.from_code, info.to_code)]
            if final.exists() and not any(p.path == final for p in old):
                raise ModelError(
                    f"{final}: already there and not a {info.from_code}→{info.to_code} package;"
                    " not replaced (remove it by hand if it is junk)"
                )
            if final.exists():  # same folder name: swap (a moment without the pair)
                os.rename(final, staging / f".old-{name}")  # "." : no archive folder
            os.rename(staging / top, final)
            for p in old:  # then retire the other versions of the pair
                if p.path != final and p.path.exists():
                    os.rename(p.path, staging / f".old-{p.path.name}")
            log.info("model-installed", model=info.ref, path=str(final))
            return _info(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def install_file(
    models_dir: Path, path: Path, *, limits: Limits = DEFAULT_LIMITS
) -> list[PackageInfo]:
    """Install a ``.argosmodel`` file, or every ``.argosmodel`` in a folder."""
    models_dir, path = Path(models_dir), Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.argosmodel"))
        if not files:
            raise ModelError(f"{path}: no .argosmodel files in this folder")
        return [_install_archive(models_dir, f, limits=limits) for f in files]
    return [_install_archive(models_dir, path, limits=limits)]


def _stream(url: str, out: BinaryIO, *, timeout: float, max_bytes: int, what: str) -> None:
    """GET ``url`` into ``out``: bounded in time and size, redirects followed (≤ 5)."""
    from ..net.download import download  # httpx loads only when something is downloaded

    try:
        download(url, out, timeout=timeout, max_bytes=max_bytes)
    except NetError as exc:
        raise ModelError(f"{what} {exc.url}: {exc.reason}") from exc


def install_url(
    models_dir: Path,
    url: str,
    *,
    timeout: float = DOWNLOAD_TIMEOUT,
    max_bytes: int = MAX_ARCHIVE_BYTES,
    expect: dict[str, Any] | None = None,
) -> list[PackageInfo]:
    """Download a ``.argosmodel`` (bounded in time and size), verify it, install it."""
    if not url.startswith(("http://", "https://")):
        raise ModelError(f"{url}: only http(s) URLs can be installed")
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".download-", suffix=".argosmodel", dir=models_dir)
    os.close(fd)
    try:
        with open(tmp, "wb") as out:
            _stream(url, out, timeout=timeout, max_bytes=max_bytes, what="package")
        return [_install_archive(models_dir, Path(tmp), expect)]
    finally:
        Path(tmp).unlink(missing_ok=True)


def fetch_index(index_url: str, *, timeout: float = DOWNLOAD_TIMEOUT) -> list[dict[str, Any]]:
    """The package index (``<index_url>index.json``) as a list of package metadata."""
    url = index_url if index_url.endswith(".json") else index_url.rstrip("/") + "/index.json"
    buf = io.BytesIO()
    _stream(url, buf, timeout=timeout, max_bytes=MAX_INDEX_BYTES, what="package index")
    body = buf.getvalue()
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"package index {url}: not JSON: {exc}") from exc
    if not isinstance(data, list):
        raise ModelError(f"package index {url}: expected a JSON list of packages")
    return [e for e in data if isinstance(e, dict) and not _metadata_problems(e)]


def install_pair(
    models_dir: Path,
    index_url: str,
    from_code: str,
    to_code: str,
    *,
    timeout: float = DOWNLOAD_TIMEOUT,
) -> list[PackageInfo]:
    """Install from the package index what translates from → to: the direct package,
    else both legs through English. Returns the packages that now serve the pair
    (already up-to-date ones are not downloaded again)."""
    src, dst = code_of(from_code), code_of(to_code)
    index = fetch_index(index_url, timeout=timeout)

    def best(a: str, b: str) -> dict[str, Any] | None:
        found = [e for e in index if (e["from_code"], e["to_code"]) == (a, b) and e.get("links")]
        return max(found, key=lambda e: _version_key(e["package_version"])) if found else None

    direct = best(src, dst)
    if direct is not None:
        wanted = [direct]
    else:
        legs = [best(src, PIVOT), best(PIVOT, dst)] if PIVOT not in (src, dst) else [None]
        if any(leg is None for leg in legs):
            raise ModelError(
                f"the package index at {index_url} has no {src}→{dst} package"
                + (f", nor {src}→{PIVOT} and {PIVOT}→{dst}" if PIVOT not in (src, dst) else "")
            )
        wanted = [leg for leg in legs if leg is not None]
    out: list[PackageInfo] = []
    for entry in wanted:
        have = newest(installed(Path(models_dir)), entry["from_code"], entry["to_code"])
        if have is not None and _version_key(have.version) >= _version_key(
            entry["package_version"]
        ):
            out.append(have)
            continue
        expect = {k: entry[k] for k in ("from_code", "to_code", "package_version")}
        errors = []
        for link in entry["links"]:
            try:
                out.extend(install_url(Path(models_dir), str(link), timeout=timeout, expect=expect))
                break
            except ModelError as exc:
                errors.append(str(exc))
        else:
            raise ModelError(
                f"{entry['from_code']}→{entry['to_code']}: every link failed: {'; '.join(errors)}"
            )
    return out


def remove(models_dir: Path, from_code: str, to_code: str) -> list[PackageInfo]:
    """Remove the installed package(s) for from → to."""
    models_dir = Path(models_dir)
    src, dst = code_of(from_code), code_of(to_code)
    with _locked(models_dir):
        pkgs = installed(models_dir)
        gone = [p for p in pkgs if (p.from_code, p.to_code) == (src, dst)]
        if not gone:
            legs = route(pkgs, src, dst)
            via = (
                f"; {src}→{dst} is served through English by {legs[0].name} and {legs[1].name}:"
                f" remove those ({src} {PIVOT}, {PIVOT} {dst}) to drop it"
                if legs
                else ""
            )
            raise ModelError(f"no installed package for {src}→{dst}{via}")
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=models_dir))
        try:
            for p in gone:
                os.rename(p.path, staging / p.path.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return gone
