"""models: verified, atomic installs from files, folders, URLs and the package index."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from syncd.errors import ModelError
from syncd.translate import packages
from tests.support import argosgen


def rewrite(
    src: Path, dest: Path, change: Callable[[str, bytes], list[tuple[zipfile.ZipInfo | str, bytes]]]
) -> Path:
    """Copy an .argosmodel, letting ``change`` replace each entry by zero or more entries."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            for new_info, data in change(info.filename, zin.read(info)):
                zout.writestr(new_info, data)
    return dest


def keep(name: str, data: bytes) -> list[tuple[zipfile.ZipInfo | str, bytes]]:
    return [(name, data)]


def test_install_list_and_route(tmp_path: Path, argos_package_dir: Path) -> None:
    target = tmp_path / "models"
    got = packages.install_file(target, argos_package_dir)
    assert sorted((p.from_code, p.to_code) for p in got) == [
        ("de", "en"),
        ("en", "de"),
        ("en", "zh"),
        ("zh", "en"),
    ]
    listed = packages.installed(target)
    assert [(p.name, p.version) for p in listed][0] == ("translate-de_en", "1.0")
    assert all(p.size_bytes > 100_000 and p.path.parent == target for p in listed)
    assert [p.ref for p in packages.route(listed, "de", "zh-Hant") or []] == [
        "translate-de_en@1.0",
        "translate-en_zh@1.0",
    ]
    assert [p.ref for p in packages.route(listed, "zh", "en") or []] == ["translate-zh_en@1.0"]
    assert packages.route(listed, "de", "fr") is None
    assert sorted(os.listdir(target)) == [".lock"] + sorted(
        p.path.name for p in listed
    )  # no staging left


def test_the_layout_is_argostranslates(models_dir: Path) -> None:
    import argostranslate.package as ap

    found = ap.get_installed_packages(path=[models_dir])
    assert sorted((p.from_code, p.to_code) for p in found) == [
        ("de", "en"),
        ("en", "de"),
        ("en", "zh"),
        ("zh", "en"),
    ]


def test_an_update_replaces_the_old_version(models_dir: Path, tmp_path: Path) -> None:
    newer = argosgen.build_package(tmp_path / "new", "de", "en", argosgen.DE_EN, version="1.1")
    before = packages.fingerprint(models_dir)
    (info,) = packages.install_file(models_dir, newer)
    assert info.ref == "translate-de_en@1.1"
    assert [p.ref for p in packages.installed(models_dir) if p.from_code == "de"] == [
        "translate-de_en@1.1"
    ]
    assert packages.fingerprint(models_dir) != before
    (again,) = packages.install_file(models_dir, newer)  # same folder name: swapped in place
    assert again.stamp != info.stamp


def test_remove(models_dir: Path) -> None:
    with pytest.raises(
        ModelError, match="no installed package for de→zh; de→zh is served through English"
    ):
        packages.remove(models_dir, "de", "zh")
    (gone,) = packages.remove(models_dir, "en", "zh")
    assert gone.ref == "translate-en_zh@1.0" and not gone.path.exists()
    with pytest.raises(ModelError, match="no installed package for en→zh$"):
        packages.remove(models_dir, "en", "zh-Hant")


def zip_entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


BAD_ARCHIVES: dict[str, tuple[Callable[[str, bytes], list[tuple[zipfile.ZipInfo | str, bytes]]], str]] = {
    "dotdot": (lambda n, d: [(n, d), ("translate-de_en-1_0/../../evil.txt", b"x")] if n.endswith("README.md") else [(n, d)], "unsafe path"),
    "absolute": (lambda n, d: [(n, d), ("/tmp/evil.txt", b"x")] if n.endswith("README.md") else [(n, d)], "unsafe path"),
    "symlink": (lambda n, d: [(n, d), (zip_entry("translate-de_en-1_0/link", 0o120777), b"/etc/passwd")] if n.endswith("README.md") else [(n, d)], "links and special files"),
    "two folders": (lambda n, d: [(n, d), ("other/x.txt", b"x")] if n.endswith("README.md") else [(n, d)], "one top-level folder"),
    "loose file": (lambda n, d: [(n, d), ("evil.txt", b"x")] if n.endswith("README.md") else [(n, d)], "outside the package folder"),
    "no metadata": (lambda n, d: [] if n.endswith("metadata.json") else [(n, d)], "no translate-de_en-1_0/metadata.json"),
    "bad metadata": (lambda n, d: [(n, b"{not json")] if n.endswith("metadata.json") else [(n, d)], "unreadable metadata.json"),
    "same codes": (lambda n, d: [(n, json.dumps({**json.loads(d), "to_code": "de"}).encode())] if n.endswith("metadata.json") else [(n, d)], "from_code and to_code are the same"),
    "no version": (lambda n, d: [(n, json.dumps({**json.loads(d), "package_version": None}).encode())] if n.endswith("metadata.json") else [(n, d)], "package_version"),
    "no model": (lambda n, d: [] if n.endswith("model.bin") else [(n, d)], "no model/model.bin"),
    "broken model": (lambda n, d: [(n, d[:1000])] if n.endswith("model.bin") else [(n, d)], "CTranslate2 model does not load"),
    "broken tokenizer": (lambda n, d: [(n, b"garbage")] if n.endswith("sentencepiece.model") else [(n, d)], "sentencepiece.model does not load"),
    "overlong name": (lambda n, d: [(n, d), ("translate-de_en-1_0/" + "a" * 300, b"x")] if n.endswith("README.md") else [(n, d)], "too long or too deep"),
    "deep folders": (lambda n, d: [(n, d), ("translate-de_en-1_0/" + "d/" * 2100 + "x", b"x")] if n.endswith("README.md") else [(n, d)], "too long or too deep"),
    "deep but short": (lambda n, d: [(n, d), ("translate-de_en-1_0/" + "d/" * 12 + "x", b"x")] if n.endswith("README.md") else [(n, d)], "too long or too deep"),
    "nested metadata": (lambda n, d: [(n, b"[" * 200_000 + b"]" * 200_000)] if n.endswith("metadata.json") else [(n, d)], "unreadable metadata.json: nested too deeply"),
    "nested in metadata": (lambda n, d: [(n, b'{"from_code": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")] if n.endswith("metadata.json") else [(n, d)], "unreadable metadata.json: nested too deeply"),
    "padded 1000:1": (lambda n, d: [(n, d), ("translate-de_en-1_0/pad.bin", b"\0" * (24 << 20))] if n.endswith("README.md") else [(n, d)], r"unpacks to \d+ bytes, more than \d+ \(10 times the archive"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_unsafe_or_broken_archives_are_refused(
    case: str, argos_packages: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    change, reason = BAD_ARCHIVES[case]
    bad = rewrite(argos_packages[("de", "en")], tmp_path / "bad.argosmodel", change)
    target = tmp_path / "models"
    with pytest.raises(ModelError, match=reason) as info:
        packages.install_file(target, bad)
    assert "bad.argosmodel" in str(info.value) or "translate-de_en-1_0" in str(info.value)
    assert packages.installed(target) == []
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()
    assert not target.exists() or [p.name for p in target.iterdir()] == [".lock"]  # nothing left


def test_not_a_zip_and_size_caps(
    tmp_path: Path, argos_packages: dict[tuple[str, str], Path]
) -> None:
    junk = tmp_path / "junk.argosmodel"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="junk.argosmodel: not an Argos package"):
        packages.install_file(tmp_path / "m", junk)
    small = packages.Limits(unpacked_bytes=1000)
    with pytest.raises(ModelError, match="unpacks to .* more than 1000"):
        packages.install_file(tmp_path / "m", argos_packages[("de", "en")], limits=small)
    tiny = packages.Limits(archive_bytes=1000)
    with pytest.raises(ModelError, match="more than the limit of 1000"):
        packages.install_file(tmp_path / "m", argos_packages[("de", "en")], limits=tiny)
    few = packages.Limits(files=2)
    with pytest.raises(ModelError, match="entries, more than 2"):
        packages.install_file(tmp_path / "m", argos_packages[("de", "en")], limits=few)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="empty: no .argosmodel files"):
        packages.install_file(tmp_path / "m", tmp_path / "empty")


def test_a_zip_bomb_is_stopped_by_the_declared_size(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("p/metadata.json", b"{}")
        zf.writestr("p/model/model.bin", b"\0" * (5 << 20))
    bomb = tmp_path / "bomb.argosmodel"
    bomb.write_bytes(buf.getvalue())
    with pytest.raises(ModelError, match="unpacks to"):
        packages.install_file(tmp_path / "m", bomb, limits=packages.Limits(unpacked_bytes=1 << 20))


def test_install_from_url_and_index(
    tmp_path: Path, argos_packages: dict[tuple[str, str], Path]
) -> None:
    target = tmp_path / "models"
    with argosgen.serve_index(argos_packages.values()) as base:
        (one,) = packages.install_url(target, base + "translate-zh_en-1_0.argosmodel")
        assert one.ref == "translate-zh_en@1.0"
        with pytest.raises(ModelError, match="HTTP 404"):
            packages.install_url(target, base + "nothing.argosmodel")
        with pytest.raises(ModelError, match="more than the limit of 100$"):
            packages.install_url(target, base + "translate-zh_en-1_0.argosmodel", max_bytes=100)
        pair = packages.install_pair(target, base, "de", "zh-Hant")
        assert [p.ref for p in pair] == ["translate-de_en@1.0", "translate-en_zh@1.0"]
        again = packages.install_pair(target, base, "zh", "en")  # already installed: kept
        assert again == [one]
        with pytest.raises(ModelError, match="has no de→fr package, nor de→en and en→fr"):
            packages.install_pair(target, base, "de", "fr")
    assert [p.name for p in target.iterdir() if p.name.startswith(".download")] == []


def test_an_unreachable_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(
        ModelError, match=r"package index http://127\.0\.0\.1:9/index\.json: cannot be fetched"
    ):
        packages.install_pair(tmp_path, "http://127.0.0.1:9/", "de", "zh", timeout=2)


def test_the_index_must_deliver_what_it_promised(
    tmp_path: Path, argos_packages: dict[tuple[str, str], Path]
) -> None:
    wrong = rewrite(
        argos_packages[("de", "en")],
        tmp_path / "translate-de_en-1_0.argosmodel",
        lambda n, d: (
            [(n, json.dumps({**json.loads(d), "package_version": "0.9"}).encode())]
            if n.endswith("metadata.json")
            else [(n, d)]
        ),
    )
    with argosgen.serve_index([wrong]) as base:
        expect = {"from_code": "de", "to_code": "en", "package_version": "1.0"}
        with pytest.raises(ModelError, match="package_version is '0.9', the index says '1.0'"):
            packages.install_url(tmp_path / "m", base + wrong.name, expect=expect)


def renamed(src: Path, dest: Path, folder: str) -> Path:
    """The package with its top-level folder renamed (metadata.json unchanged)."""
    return rewrite(src, dest, lambda n, d: [(folder + n[n.index("/") :], d)])


def test_a_folder_name_that_disagrees_with_the_metadata_is_refused(
    models_dir: Path, argos_packages: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    """de→en packed in en→zh's folder used to replace and delete the installed en→zh."""
    liar = renamed(
        argos_packages[("de", "en")], tmp_path / "liar.argosmodel", "translate-en_zh-1_0"
    )
    before = {p.ref: p.stamp for p in packages.installed(models_dir)}
    with pytest.raises(ModelError, match="names en→zh but its metadata.json says de→en"):
        packages.install_file(models_dir, liar)
    assert {p.ref: p.stamp for p in packages.installed(models_dir)} == before
    assert sorted(p.name for p in models_dir.iterdir() if p.name.startswith(".")) == [".lock"]


def test_packages_are_installed_under_a_name_made_from_their_metadata(
    models_dir: Path, argos_packages: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    odd = renamed(argos_packages[("de", "en")], tmp_path / "odd.argosmodel", "my-model")
    (info,) = packages.install_file(models_dir, odd)
    assert info.path == models_dir / "translate-de_en-1_0"
    assert not (models_dir / "my-model").exists()
    assert len(packages.installed(models_dir)) == 4


def test_a_foreign_folder_in_the_way_is_not_replaced(
    models_dir: Path, argos_packages: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    newer = argosgen.build_package(tmp_path / "new", "de", "en", argosgen.DE_EN, version="1.1")
    squatter = models_dir / "translate-de_en-1_1"
    squatter.mkdir()
    (squatter / "notes.txt").write_text("an editor's notes")
    with pytest.raises(ModelError, match="already there and not a de→en package"):
        packages.install_file(models_dir, newer)
    assert (squatter / "notes.txt").read_text() == "an editor's notes"
    assert [p.ref for p in packages.installed(models_dir) if p.from_code == "de"] == [
        "translate-de_en@1.0"
    ]
