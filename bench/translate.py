"""Benchmark: syncd's engine against argostranslate item by item, and the raw limit.

    .venv/bin/python bench/translate.py            # full run (about 5 minutes on 2 cores)
    .venv/bin/python bench/translate.py --items 4  # quick look

Models: four generated packages of real Argos size and cost (6+6 layers, d_model
512, FFN 2048, 8 heads, 50,000 pieces, int8; tests/support/argosgen.py, size
"argos") whose output length is deterministic (word by word). Workload: German news
items of ``--sentences`` sentences each, translated to Chinese through English.

Modes, each in a fresh process (so times and peak memory are its own), timed after
the models are loaded; a, b and c run ``--repeat`` times, alternating, and the fastest
run counts (other processes on a shared machine only ever add time; every run is
listed, with its CPU time):

  a  ``argostranslate.translate`` item by item with its defaults (beam 4, batches of
     32 tokens), sockets refused so nothing is downloaded
  b  syncd's ``ArgosEngine.translate`` over all items at once (beam ``--beam``)
  c  the raw limit: one ``translate_batch`` per leg over all sentences with the
     engine's decoding settings, nothing else
  m  memory: one process translating German→Chinese and Chinese→German with the
     engine, so it holds all four directions; its peak RSS is compared with the
     models' size
  s  the sweep: mode c once per compute type × thread layout (one batch with every
     core, one batch per core, and two batches for four or more cores), each with
     the same memory bound (``--batch-tokens`` shared by the batches in flight);
     configurations within 1.3× of the best are run ``--repeat`` times. Compute types that CTranslate2 resolves to the same type run once.

b and c use the settings the engine chooses for this machine (syncd/translate/
settings.py) unless ``--layout compute,inter,intra`` fixes them. The run records the
CPU model, its vector extensions, the cores, the CTranslate2 version and ``CT2_*``
variables (``CT2_USE_MKL=0 CT2_FORCE_CPU_ISA=AVX2`` run another backend and ISA on
the same CPU). Results are printed with the ratios a/b, b/c and b/best of the sweep;
``--json`` writes them. See docs/performance.md for figures and how to read them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.config import ModelsConfig  # noqa: E402

PAIRS = (("de", "en"), ("en", "zh"), ("zh", "en"), ("en", "de"))
BATCH_TOKENS = [768]  # --batch-tokens (decoding tokens: source tokens × beam)
TARGET_SPEEDUP = 4.0  # b at least 4× faster than a
TARGET_OVERHEAD = 1.15  # b within 1.15× of c
TARGET_MEMORY_MB = 150  # peak RSS at most the models' size plus this
TARGET_SWEEP = 1.15  # b within 1.15× of the best raw configuration of the sweep
SWEEP_CLOSE = 1.3  # sweep configurations this close to the best are run again


# ----------------------------------------------------------------- preparation


def packages(work: Path) -> Path:
    """The four argos-size packages, built once into ``work/packages``."""
    from tests.support import argosgen

    digest = hashlib.sha256(Path(argosgen.__file__).read_bytes()).hexdigest()[:12]
    out = work / f"packages-{digest}"  # rebuilt whenever the generator changes
    for src, dst in PAIRS:
        path = out / f"{argosgen.package_name(src, dst)}.argosmodel"
        if not path.exists():
            print(f"building {path.name} (argos size) …", file=sys.stderr)
            argosgen.build_package(
                out, src, dst, argosgen.DICTIONARIES[(src, dst)], size="argos", with_minisbd=True
            )
    return out


def install(work: Path) -> Path:
    from syncd.translate import packages as models

    built = packages(work)
    target = work / f"models-{built.name.split('-', 1)[1]}"
    if len(models.installed(target)) < len(PAIRS):
        models.install_file(target, built)
    return target


def workload(items: int, sentences: int, lang: str = "de", seed: int = 7) -> list[list[list[str]]]:
    """Items → paragraphs → sentences, from the test models' lexicon (all words known).

    Neighbouring words never share a translation, so no output looks like a
    repetition loop and the engine does exactly the work of the raw limit (c).
    """
    from tests.support import argosgen

    col = {"de": 0, "en": 1, "zh": 2}[lang]
    rows = sorted(set(argosgen.LEXICON))
    rnd = random.Random(seed)

    def sentence() -> str:
        chosen = [rnd.choice(rows)]
        for _ in range(rnd.randint(14, 24) - 1):
            chosen.append(
                rnd.choice([r for r in rows if r[1] != chosen[-1][1] and r[2] != chosen[-1][2]])
            )
        words = [r[col] for r in chosen]
        if lang == "zh":
            return "".join(words) + "。"
        return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]]) + "."

    out = []
    for _ in range(items):
        paragraphs: list[list[str]] = []
        left = sentences
        while left:
            n = min(left, rnd.randint(3, 5))
            paragraphs.append([sentence() for _ in range(n)])
            left -= n
        out.append(paragraphs)
    return out


def _joiner(lang: str) -> str:
    return "" if lang == "zh" else " "


# ----------------------------------------------------------------------- modes


def mode_argos(models_dir: Path, items: list[list[list[str]]], beam: int) -> dict[str, Any]:
    import socket

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("network refused in the benchmark")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    import argostranslate.translate as t

    t.translate("Hallo Welt.", "de", "zh")  # load both legs and the splitters
    texts = ["\n".join(" ".join(p) for p in item) for item in items]
    start, cpu0 = time.perf_counter(), cpu_seconds()
    outs = [t.translate(text, "de", "zh") for text in texts]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cpu_seconds": cpu_seconds() - cpu0, "outputs": outs}


LAYOUT = [""]  # --layout "compute,inter,intra" for b and c; empty: chosen for the machine


def _config(beam: int, layout: str) -> ModelsConfig:
    if not layout:
        return ModelsConfig(beam_size=beam, max_batch_tokens=BATCH_TOKENS[0])
    compute, inter, intra = layout.split(",")
    return ModelsConfig(
        beam_size=beam,
        max_batch_tokens=BATCH_TOKENS[0],
        compute_type=compute,
        inter_threads=int(inter),
        intra_threads=int(intra),
    )


def _settings(beam: int, layout: str) -> Any:
    """What the engine would choose here for ``layout`` (b and c use the same)."""
    import ctranslate2

    from syncd.translate import settings as st

    cfg = _config(beam, layout)
    return st.choose(cfg, st.detect(), ctranslate2.get_supported_compute_types)


def _engine(models_dir: Path, beam: int) -> Any:
    from syncd.translate.engine import ArgosEngine

    return ArgosEngine(models_dir, _config(beam, LAYOUT[0]))


def _requests(items: list[list[list[str]]], src: str, dst: str) -> list[Any]:
    from syncd.translate import TranslationRequest

    return [
        TranslationRequest(str(i), src, dst, "", "", "".join(f"<p>{' '.join(p)}</p>" for p in item))
        for i, item in enumerate(items)
    ]


def mode_engine(models_dir: Path, items: list[list[list[str]]], beam: int) -> dict[str, Any]:
    from syncd.translate import TranslationRequest

    engine = _engine(models_dir, beam)
    engine.translate([TranslationRequest("warm", "de", "zh", "Hallo Welt.", "", "")])
    requests = _requests(items, "de", "zh")
    start, cpu0 = time.perf_counter(), cpu_seconds()
    results = engine.translate(requests)
    seconds = time.perf_counter() - start
    import re

    outs = ["\n".join(re.findall(r"<p>(.*?)</p>", r.body_html)) for r in results]
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds() - cpu0,
        "outputs": outs,
        "batches": engine.stats["batches"],
        "retried": engine.stats["retried"],
        "settings": engine.settings().as_fields(),
    }


def mode_raw(models_dir: Path, items: list[list[list[str]]], beam: int) -> dict[str, Any]:
    import ctranslate2
    import sentencepiece as spm

    from syncd.translate import engine as eng
    from syncd.translate import packages as models

    chosen = _settings(beam, LAYOUT[0])
    legs = models.route(models.installed(models_dir), "de", "zh") or []
    loaded = []
    for info in legs:
        tr = ctranslate2.Translator(
            str(info.path / "model"), device=chosen.device, compute_type=chosen.compute_type,
            inter_threads=chosen.inter_threads, intra_threads=chosen.intra_threads,
        )  # fmt: skip
        loaded.append(
            (tr, spm.SentencePieceProcessor(model_file=str(info.path / "sentencepiece.model")))
        )
    sentences = [s for item in items for p in item for s in p]
    for tr, sp in loaded:  # warm up like the other modes
        tr.translate_batch([sp.encode("Hallo", out_type=str)], beam_size=beam)
    start, cpu0 = time.perf_counter(), cpu_seconds()
    texts = sentences
    for tr, sp in loaded:
        tokens = [sp.encode(s, out_type=str) for s in texts]
        results = tr.translate_batch(
            tokens,
            beam_size=beam,
            max_batch_size=max(1, chosen.batch_tokens // beam),
            batch_type="tokens",
            length_penalty=eng.LENGTH_PENALTY,
            replace_unknowns=True,
            max_decoding_length=eng._bound(max(len(t) for t in tokens)),
        )
        texts = [
            sp.decode_pieces(r.hypotheses[0]).replace("\u2581", " ").lstrip(" ") for r in results
        ]
    seconds = time.perf_counter() - start
    target_tokens = sum(len(loaded[-1][1].encode(t)) for t in texts)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds() - cpu0,
        "sentences": len(sentences),
        "target_tokens": target_tokens,
        "settings": {**chosen.as_fields(), "resolved": loaded[0][0].compute_type},
    }


def mode_memory(models_dir: Path, items: list[list[list[str]]], beam: int) -> dict[str, Any]:
    from syncd.translate import packages as models

    engine = _engine(models_dir, beam)
    engine.translate([])
    baseline = peak_rss_mb()
    zh_items = json.loads(
        (Path(os.environ["SYNCD_BENCH_WORK"]) / "workload.json").read_text("utf-8")
    )["zh"]
    start, cpu0 = time.perf_counter(), cpu_seconds()
    engine.translate(_requests(items, "de", "zh") + _requests(zh_items, "zh", "de"))
    seconds = time.perf_counter() - start
    size = sum(p.size_bytes for p in models.installed(models_dir))
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds() - cpu0,
        "models_mb": size / 1e6,
        "baseline_mb": baseline,
    }


MODES = {"a": mode_argos, "b": mode_engine, "c": mode_raw, "m": mode_memory}


def cpu_seconds() -> float:
    """CPU time of this process, every thread (other processes on the machine lengthen
    the wall time of a run much more than its CPU time)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: unlike ru_maxrss, not inherited over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, models_dir: Path, work: Path, beam: int) -> None:
    loaded = json.loads((work / "workload.json").read_text(encoding="utf-8"))
    result = MODES[mode](models_dir, loaded["de"], beam)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result, ensure_ascii=False))


def run(
    mode: str, models_dir: Path, args: argparse.Namespace, beam: int, layout: str = ""
) -> dict[str, Any]:
    env = dict(os.environ)
    home = Path(args.work) / "home"
    env.update(
        SYNCD_BENCH_WORK=str(args.work),
        SYNCD_BENCH_MODELS=str(models_dir),
        ARGOS_PACKAGES_DIR=str(models_dir),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    cmd = [sys.executable, __file__, "--child", mode, "--work", args.work, "--beam", str(beam),
           "--batch-tokens", str(args.batch_tokens), "--layout", layout]  # fmt: skip
    print(f"running mode {mode} (beam {beam}{', ' + layout if layout else ''}) …", file=sys.stderr)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mode {mode} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def machine() -> dict[str, Any]:
    """Where the run happens: what ``lscpu`` says about model and flags, and more."""
    import datetime

    import ctranslate2

    from syncd.translate import settings as st

    m = st.detect()
    return {
        "date": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "cpu": m.cpu,
        "vendor": m.vendor,
        "vector_extensions": m.vector_extensions,
        "cores": m.cores,
        "cuda_devices": m.cuda_devices,
        "ctranslate2": ctranslate2.__version__,
        "python": sys.version.split()[0],
        "ct2_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("CT2_")},
    }


def sweep_grid(models_dir: Path, cores: int) -> list[str]:
    """Compute types × thread layouts; types CTranslate2 resolves alike run once."""
    import ctranslate2

    from syncd.translate import models

    model = str(models.installed(models_dir)[0].path / "model")
    resolved: dict[str, str] = {}
    for c in sorted(ctranslate2.get_supported_compute_types("cpu")):
        kind = ctranslate2.Translator(model, device="cpu", compute_type=c).compute_type
        resolved.setdefault(kind, c)  # int8 and int8_float32 are one type on CPU
    layouts = {(1, cores), (cores, 1)} | ({(2, cores // 2)} if cores >= 4 else set())
    return [f"{c},{i},{j}" for c in resolved.values() for i, j in sorted(layouts)]


def sweep(models_dir: Path, args: argparse.Namespace, cores: int) -> list[dict[str, Any]]:
    runs = {
        lay: [run("c", models_dir, args, args.beam, lay)] for lay in sweep_grid(models_dir, cores)
    }
    best = min(r[0]["seconds"] for r in runs.values())
    close = [lay for lay, r in runs.items() if r[0]["seconds"] <= best * SWEEP_CLOSE]
    for _ in range(args.repeat - 1):  # alternate, so drift hits every configuration
        for lay in close:
            runs[lay].append(run("c", models_dir, args, args.beam, lay))
    table = []
    for lay, results in runs.items():
        results.sort(key=lambda r: r["seconds"])
        table.append(
            {"layout": lay, "seconds": results[0]["seconds"],
             "cpu_seconds": results[0]["cpu_seconds"],
             "all_seconds": [r["seconds"] for r in results], "settings": results[0]["settings"]}
        )  # fmt: skip
    return sorted(table, key=lambda t: t["seconds"])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--sentences", type=int, default=15)
    ap.add_argument("--beam", type=int, default=4, help="engine and raw beam (a uses argos's 4)")
    ap.add_argument(
        "--work",
        default=str(Path(tempfile.gettempdir()) / "syncd-bench"),
        help="cache of built packages",
    )
    ap.add_argument(
        "--batch-tokens", type=int, default=BATCH_TOKENS[0], help="engine and raw batch size"
    )
    ap.add_argument(
        "--layout",
        default="",
        help='b and c with "compute_type,inter_threads,intra_threads" (default: as chosen)',
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of a, b, c and the sweep's best (the fastest counts) and m (the worst counts)",
    )
    ap.add_argument("--skip-argos", action="store_true", help="skip mode a (the slow one)")
    ap.add_argument("--skip-sweep", action="store_true", help="skip the sweep s")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--child", choices=sorted(MODES), help=argparse.SUPPRESS)
    args = ap.parse_args()
    BATCH_TOKENS[0] = args.batch_tokens
    LAYOUT[0] = args.layout
    if args.child:  # the parent installed the models; the child imports nothing it need not
        models_dir = Path(os.environ["SYNCD_BENCH_MODELS"])
        child(args.child, models_dir, Path(args.work), args.beam)
        return
    models_dir = install(Path(args.work))
    (Path(args.work) / "workload.json").write_text(
        json.dumps(
            {
                "de": workload(args.items, args.sentences),
                "zh": workload(args.items, args.sentences, "zh", 11),
            }
        ),
        encoding="utf-8",
    )
    res: dict[str, Any] = {
        "items": args.items,
        "sentences_per_item": args.sentences,
        "beam": args.beam,
        "batch_tokens": args.batch_tokens,
        "machine": machine(),
    }
    res["cores"] = res["machine"]["cores"]
    runs: dict[str, list[dict[str, Any]]] = {
        m: [] for m in "abc" if m != "a" or not args.skip_argos
    }
    for _ in range(args.repeat):  # alternate, so drift on a shared machine hits all
        for mode in runs:
            beam = 4 if mode == "a" else args.beam  # a: argostranslate's own beam
            runs[mode].append(run(mode, models_dir, args, beam, args.layout))
    for mode, results in runs.items():  # the fastest counts: load elsewhere only adds time
        results.sort(key=lambda r: r["seconds"])
        res[mode] = {**results[0], "all_seconds": [r["seconds"] for r in results]}
    if not args.skip_sweep:
        res["s"] = sweep(models_dir, args, res["cores"])
    mem = sorted(
        (run("m", models_dir, args, args.beam, args.layout) for _ in range(args.repeat)),
        key=lambda r: r["peak_rss_mb"],
    )
    res["m"] = {**mem[-1], "all_peak_rss_mb": [r["peak_rss_mb"] for r in mem]}  # the worst counts
    report(res)
    if args.json:
        for k in ("a", "b"):
            res.get(k, {}).pop("outputs", None)
        args.json.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def report(res: dict[str, Any]) -> None:
    c, b, m, mach = res["c"], res["b"], res["m"], res["machine"]
    n, tok = c["sentences"], c["target_tokens"]
    print(
        f"\n{mach['date']}: {mach['cpu']} ({mach['vendor']}), {mach['cores']} cores,"
        f" {mach['vector_extensions']}; ctranslate2 {mach['ctranslate2']},"
        f" python {mach['python']} {' '.join(f'{k}={v}' for k, v in mach['ct2_env'].items())}"
    )
    print("chosen: " + ", ".join(f"{k}={v}" for k, v in b["settings"].items()))
    print(f"{res['items']} items × {res['sentences_per_item']} sentences = {n} sentences, de→en→zh,"
          f" {tok} target tokens, beam {res['beam']}, {res['batch_tokens']} decoding tokens"
          " at once\n")  # fmt: skip
    print(
        f"{'mode':<44}{'seconds':>9}{'tok/s':>8}{'cpu s':>8}{'peak RSS MB':>13}   runs (fastest counts)"
    )
    rows = [
        ("a argostranslate item by item (defaults)", res.get("a")),
        ("b syncd engine", b),
        ("c raw: one batch per leg", c),
    ]
    for name, r in rows:
        if r:
            runs = ", ".join(f"{x:.1f}" for x in r["all_seconds"])
            print(
                f"{name:<44}{r['seconds']:>9.2f}{tok / r['seconds']:>8.0f}{r['cpu_seconds']:>8.1f}"
                f"{r['peak_rss_mb']:>13.0f}   {runs}"
            )
    if "s" in res:
        print(f"\nsweep (raw, as c){'':<27}{'seconds':>9}{'tok/s':>8}{'cpu s':>8}   runs")
        for t in res["s"]:
            name = f"s {t['layout']} ({t['settings']['resolved']})"
            runs = ", ".join(f"{x:.1f}" for x in t["all_seconds"])
            print(
                f"{name:<44}{t['seconds']:>9.2f}{tok / t['seconds']:>8.0f}"
                f"{t['cpu_seconds']:>8.1f}   {runs}"
            )
    print()
    if "a" in res:
        same = res["a"]["outputs"] == b["outputs"]
        speed = res["a"]["seconds"] / b["seconds"]
        print(
            f"a/b speed-up       {speed:6.2f}×  (target ≥ {TARGET_SPEEDUP}×)  {'ok' if speed >= TARGET_SPEEDUP else 'MISSED'}"
        )
        print(f"outputs a == b     {same}")
    over = b["seconds"] / c["seconds"]
    print(
        f"b/c overhead       {over:6.2f}×  (target ≤ {TARGET_OVERHEAD}×)  {'ok' if over <= TARGET_OVERHEAD else 'MISSED'}"
    )
    if "s" in res:
        best = res["s"][0]
        ratio = b["seconds"] / best["seconds"]
        print(
            f"b/best of sweep    {ratio:6.2f}×  (target ≤ {TARGET_SWEEP}×, best {best['layout']})"
            f"  {'ok' if ratio <= TARGET_SWEEP else 'MISSED'}"
        )
    budget = m["models_mb"] + TARGET_MEMORY_MB
    peaks = ", ".join(f"{p:.0f}" for p in m["all_peak_rss_mb"])
    print(
        f"memory, 4 directions: worst peak of ({peaks}) {m['peak_rss_mb']:.0f} MB"
        f" for {m['models_mb']:.0f} MB of models"
        f" (+{m['peak_rss_mb'] - m['models_mb']:.0f} MB; budget {budget:.0f})"
        f"  {'ok' if m['peak_rss_mb'] <= budget else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
