"""The generated Argos packages of tests/support/argosgen.py.

argostranslate reads its settings once at import and creates folders under
$HOME, so everything that imports it runs in a subprocess with HOME, XDG_* and
ARGOS_* pointing at temporary folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import argosgen

PAIRS = list(argosgen.DICTIONARIES)

# Runs inside a fresh interpreter: blocks the network (except the hosts named in
# args["allow"]) before argostranslate is imported, then does what args asks.
_DRIVER = r"""
import json, socket, sys

args = json.loads(sys.argv[1])
allow = set(args.get("allow", []))
attempts = []
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo

def _check(address):
    host = address[0] if isinstance(address, tuple) else address
    if host not in allow:
        attempts.append(str(address))
        raise OSError(f"network blocked by the test: {address!r}")

def connect(self, address):
    _check(address)
    return _connect(self, address)

def connect_ex(self, address):
    _check(address)
    return _connect_ex(self, address)

def getaddrinfo(host, *rest, **kw):
    _check((host,))
    return _getaddrinfo(host, *rest, **kw)

socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.getaddrinfo = getaddrinfo

out = {}
if "sbd" in args:
    from minisbd import SBDetect
    detector = SBDetect(args["sbd"]["model"], use_gpu=False)
    out["sbd"] = [detector.sentences(text) for text in args["sbd"]["texts"]]

import argostranslate.package as package
import argostranslate.settings as argos_settings
import argostranslate.translate as translate

if args.get("index"):
    package.update_package_index()
    available = package.get_available_packages()
    out["available"] = sorted(f"{p.from_code}->{p.to_code} {p.package_version}" for p in available)
    for p in available:
        if [p.from_code, p.to_code] in args["index"]:
            p.install()  # download through networking.get_from, install, delete
for path in args.get("install", []):
    package.install_from_path(path)
out["installed"] = sorted(f"{p.from_code}->{p.to_code}" for p in package.get_installed_packages())
out["translations"] = [translate.translate(text, f, t) for f, t, text in args.get("translate", [])]
out["minisbd_cache_exists"] = (argos_settings.data_dir / "minisbd").exists()
out["blocked"] = attempts
print(json.dumps(out, ensure_ascii=False))
"""


def run_argos(tmp: Path, args: dict[str, Any], *, index_url: str | None = None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOS_", "XDG_"))}
    for name in ("HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
        env[name] = str(tmp / name)
    env["ARGOS_PACKAGES_DIR"] = str(tmp / "packages")
    # Never the public index: an unreachable port unless a test serves one.
    env["ARGOS_PACKAGE_INDEX"] = index_url or "http://127.0.0.1:9/"
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _DRIVER, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    return argosgen.standard_packages(tmp_path_factory.mktemp("argosgen"), with_minisbd=True)


@pytest.fixture(scope="module")
def raw(
    packages: dict[tuple[str, str], Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], argosgen.RawTranslator]:
    dest = tmp_path_factory.mktemp("extracted")
    return {
        pair: argosgen.RawTranslator(argosgen.extract_package(path, dest))
        for pair, path in packages.items()
    }


def raw_translate(
    raw: dict[tuple[str, str], argosgen.RawTranslator], from_code: str, to_code: str, text: str
) -> str:
    if (from_code, to_code) not in raw:  # pivot through English, as Argos does
        return raw_translate(raw, "en", to_code, raw_translate(raw, from_code, "en", text))
    return raw[(from_code, to_code)].translate(argosgen.split_sentences(text))


def test_package_layout(packages: dict[tuple[str, str], Path]) -> None:
    for (src, dst), path in packages.items():
        assert path.name == f"translate-{src}_{dst}-1_0.argosmodel"
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
        root = f"translate-{src}_{dst}-1_0/"
        assert all(n.startswith(root) for n in names)
        for member in (
            "metadata.json",
            "sentencepiece.model",
            "model/model.bin",
            "model/config.json",
            "model/shared_vocabulary.json",
            f"minisbd/{src}.onnx",
        ):
            assert root + member in names
        meta = argosgen.read_metadata(path)
        assert meta == {
            "package_version": "1.0",
            "argos_version": "1.9",
            "from_code": src,
            "from_name": argosgen.LANGUAGE_NAMES[src],
            "to_code": dst,
            "to_name": argosgen.LANGUAGE_NAMES[dst],
            "type": "translate",
            "code": f"translate-{src}_{dst}",
            "links": [],
        }


def test_build_is_reproducible(tmp_path: Path) -> None:
    digests = [
        hashlib.sha256(
            argosgen.build_package(
                tmp_path / str(i), "en", "zh", argosgen.EN_ZH, with_minisbd=True
            ).read_bytes()
        ).hexdigest()
        for i in range(2)
    ]
    assert digests[0] == digests[1]


@pytest.mark.parametrize("sample", argosgen.SAMPLES, ids=lambda s: f"{s[0]}-{s[1]}:{s[2][:20]}")
def test_raw_ctranslate2_gives_samples(
    raw: dict[tuple[str, str], argosgen.RawTranslator], sample: tuple[str, str, str, str]
) -> None:
    from_code, to_code, source, expected = sample
    assert raw_translate(raw, from_code, to_code, source) == expected


def _piece_lists(pair: tuple[str, str]) -> st.SearchStrategy[list[str]]:
    keys = sorted(argosgen.DICTIONARIES[pair])
    alphabet = sorted(set(argosgen.ALPHABET) | {argosgen.WORD})
    return st.lists(
        st.one_of(st.sampled_from(keys), st.sampled_from(alphabet), st.sampled_from(["€", "猫"])),
        min_size=1,
        max_size=120,
    )


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_piece_goes_through_the_dictionary(
    raw: dict[tuple[str, str], argosgen.RawTranslator], pair: tuple[str, str], data: st.DataObject
) -> None:
    # Arbitrary piece sequences, not only sentences: dictionary pieces, copied
    # characters, and characters outside the vocabulary (<unk>, copied back by
    # replace_unknowns), under argostranslate's decoding options.
    source = data.draw(_piece_lists(pair))
    [hypothesis] = raw[pair].translate_pieces([source])
    assert hypothesis == argosgen.expected_pieces(source, argosgen.DICTIONARIES[pair])


def test_every_beam_ends_by_itself(raw: dict[tuple[str, str], argosgen.RawTranslator]) -> None:
    # length_penalty=0.2 disables CTranslate2's early exit: decoding only stops
    # when all beams are finished.  The best one ends at the source length, the
    # alternatives one step later (nothing runs on towards max_decoding_length).
    for (from_code, to_code), translator in raw.items():
        for src, _dst, text, _expected in argosgen.SAMPLES:
            if src != from_code:
                continue
            for sentence in argosgen.split_sentences(text):
                source = translator.sp.encode(sentence, out_type=str)
                [result] = translator.translator.translate_batch(
                    [source],
                    beam_size=4,
                    num_hypotheses=4,
                    length_penalty=0.2,
                    replace_unknowns=True,
                )
                lengths = [len(h) for h in result.hypotheses]
                assert lengths[0] == len(source), (from_code, to_code, sentence)
                assert max(lengths) <= len(source) + 1, (from_code, to_code, sentence)


def test_long_source_uses_the_whole_position_table(
    raw: dict[tuple[str, str], argosgen.RawTranslator],
) -> None:
    keys = sorted(argosgen.DE_EN)
    rng = random.Random(7)
    source = [rng.choice(keys) for _ in range(argosgen.MAX_POSITIONS - 1)]  # + </s>
    translator = raw[("de", "en")].translator
    [result] = translator.translate_batch(
        [source],
        beam_size=4,
        length_penalty=0.2,
        replace_unknowns=True,
        max_decoding_length=argosgen.MAX_POSITIONS,
    )
    assert result.hypotheses[0] == argosgen.expected_pieces(source, argosgen.DE_EN)


def _sbd_texts() -> list[str]:
    rng = random.Random(3)
    chars = "ab  .!?。！？\t\n"
    texts = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 40))) for _ in range(60)]
    return [
        "Hallo Welt. Wie geht's? Gut! Version 1.5 ist da...",
        "你好世界。该市长访问金华！好？",
        "Ende ohne Punkt",
        *[t for t in texts if t.strip()],
    ]


def test_argostranslate_offline_gives_samples(
    packages: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    texts = _sbd_texts()
    out = run_argos(
        tmp_path,
        {
            "install": [str(p) for p in packages.values()],
            "translate": [list(s[:3]) for s in argosgen.SAMPLES],
            "sbd": {
                "model": str(
                    argosgen.extract_package(packages[("de", "en")], tmp_path / "x")
                    / "minisbd"
                    / "de.onnx"
                ),
                "texts": texts,
            },
        },
    )
    assert out["installed"] == sorted(f"{a}->{b}" for a, b in packages)
    assert out["translations"] == [s[3] for s in argosgen.SAMPLES]
    # MiniSBD would have downloaded <lang>.onnx into this cache without the
    # packaged model; nothing tried to connect anywhere.
    assert out["minisbd_cache_exists"] is False
    assert out["blocked"] == []
    # The ONNX splitter, driven by minisbd itself, follows the reference rule.
    assert out["sbd"] == [argosgen.split_sentences(text) for text in texts]


def test_index_server_and_argos_download_path(
    packages: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    with argosgen.serve_index(packages.values()) as base:
        assert base.startswith("http://127.0.0.1:") and base.endswith("/")
        with urllib.request.urlopen(base + "index.json") as response:
            index = json.load(response)
        assert sorted((e["from_code"], e["to_code"]) for e in index) == sorted(packages)
        for entry in index:
            path = packages[(entry["from_code"], entry["to_code"])]
            assert entry["links"] == [base + path.name]
            assert entry["type"] == "translate"
        with urllib.request.urlopen(index[0]["links"][0]) as response:
            path = packages[(index[0]["from_code"], index[0]["to_code"])]
            assert response.read() == path.read_bytes()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base + "nope.argosmodel")
        missing.value.close()

        out = run_argos(
            tmp_path,
            {
                "allow": ["127.0.0.1"],
                "index": [["de", "en"]],
                "translate": [["de", "en", "Hallo Welt. Der Bürgermeister besucht Jinhua."]],
            },
            index_url=base,
        )
    assert out["available"] == sorted(f"{a}->{b} 1.0" for a, b in packages)
    assert out["installed"] == ["de->en"]
    assert out["translations"] == ["Hello world. The mayor visits Jinhua."]
    assert out["blocked"] == []
    # AvailablePackage.install deletes the download after installing it.
    assert not list((tmp_path / "XDG_CACHE_HOME" / "argos-translate" / "downloads").iterdir())


@pytest.mark.slow
def test_argos_size_package_is_exact(tmp_path: Path) -> None:
    path = argosgen.build_package(tmp_path, "de", "en", argosgen.DE_EN, size="argos")
    folder = argosgen.extract_package(path, tmp_path / "x")
    config = json.loads((folder / "model" / "config.json").read_text())
    assert config["add_source_eos"] is True
    vocabulary = json.loads((folder / "model" / "shared_vocabulary.json").read_text())
    assert len(vocabulary) == 50_000
    assert (folder / "model" / "model.bin").stat().st_size > 100_000_000
    translator = argosgen.RawTranslator(folder)
    for from_code, to_code, source, expected in argosgen.SAMPLES:
        if (from_code, to_code) == ("de", "en"):
            assert translator.translate(argosgen.split_sentences(source)) == expected
