"""Build the four Argos-size generated packages (de->en, en->zh, zh->en, en->de).

Each has the shape and cost of a real Argos model (6+6 layers, d_model 512,
8 heads, FFN 2048, 50,000 SentencePiece pieces, int8) and translates word by
word from tests/support/argosgen.py's dictionaries, so benchmark output is
exact and has a realistic length.  After building, every entry of
argosgen.SAMPLES is translated with ctranslate2 the way argostranslate calls it
(pivots through English) and compared exactly.

    .venv/bin/python bench/make_argos_size_model.py OUT_DIR [--no-minisbd]

Exit status 1 if any sample differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import argosgen  # noqa: E402


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument(
        "--no-minisbd",
        action="store_true",
        help="leave out minisbd/<lang>.onnx (argostranslate would then download a splitter)",
    )
    args = parser.parse_args(argv)

    packages: dict[tuple[str, str], Path] = {}
    total = time.perf_counter()
    for (src, dst), dictionary in argosgen.DICTIONARIES.items():
        start = time.perf_counter()
        path = argosgen.build_package(
            args.out_dir, src, dst, dictionary, size="argos", with_minisbd=not args.no_minisbd
        )
        elapsed = time.perf_counter() - start
        with zipfile.ZipFile(path) as zf:
            sizes = {i.filename.split("/", 1)[1]: i.file_size for i in zf.infolist()}
        print(
            f"{src}->{dst}: built in {elapsed:.1f} s  {path.name} {_mb(path.stat().st_size)}"
            f"  (model.bin {_mb(sizes['model/model.bin'])},"
            f" sentencepiece.model {_mb(sizes['sentencepiece.model'])},"
            f" shared_vocabulary.json {_mb(sizes['model/shared_vocabulary.json'])})"
        )
        packages[(src, dst)] = path
    print(f"all four built in {time.perf_counter() - total:.1f} s into {args.out_dir}")

    failures = 0
    with tempfile.TemporaryDirectory(prefix="argos-size-") as tmp:
        start = time.perf_counter()
        translators = {
            pair: argosgen.RawTranslator(argosgen.extract_package(path, Path(tmp)))
            for pair, path in packages.items()
        }
        print(f"extracted and loaded in {time.perf_counter() - start:.1f} s")

        def translate(src: str, dst: str, text: str) -> str:
            if (src, dst) not in translators:
                return translate("en", dst, translate(src, "en", text))
            return translators[(src, dst)].translate(argosgen.split_sentences(text))

        for src, dst, text, expected in argosgen.SAMPLES:
            start = time.perf_counter()
            got = translate(src, dst, text)
            ms = (time.perf_counter() - start) * 1000
            ok = got == expected
            failures += not ok
            print(f"{'ok ' if ok else 'BAD'} {ms:7.1f} ms  {src}->{dst}  {text!r} -> {got!r}")
            if not ok:
                print(f"    expected {expected!r}")
    print("all samples exact" if not failures else f"{failures} samples differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
