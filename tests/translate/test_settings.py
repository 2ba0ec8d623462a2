"""Settings chosen for the machine: device decision, rules, overrides, batches in flight."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import ctranslate2
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as hst

from syncd.cli import main
from syncd.config import ModelsConfig
from syncd.errors import TranslateError
from syncd.models import Translation
from syncd.translate import TranslationRequest
from syncd.translate import settings as st
from syncd.translate.engine import ArgosEngine
from tests.support.configs import write_config

EPYC_CPUINFO = """\
processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni
"""

XEON_FLAGS = "fma avx avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bitalg"
XEON_CPUINFO = f"""\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor @ 2.60GHz
flags\t\t: {XEON_FLAGS}
"""

ARM_CPUINFO = """\
processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics
CPU implementer\t: 0x41
"""

CPU_TYPES = {"int8", "int8_float32", "int16", "float32"}
CUDA_TYPES = {"int8", "int8_float16", "float16", "float32"}


def supported(device: str) -> set[str]:
    return CUDA_TYPES if device == "cuda" else CPU_TYPES


def machine(cores: int, gpus: int = 0) -> st.Machine:
    return st.Machine("AMD EPYC 7B13", "AuthenticAMD", frozenset({"avx2"}), cores, gpus)


# ---------------------------------------------------------------------- detecting


def test_cpuinfo_of_an_amd_epyc_an_intel_xeon_and_an_arm_core() -> None:
    assert st.parse_cpuinfo(EPYC_CPUINFO) == ("AMD EPYC 7B13", "AuthenticAMD", {"avx2"})
    model, vendor, flags = st.parse_cpuinfo(XEON_CPUINFO)
    assert (model, vendor) == ("Intel(R) Xeon(R) Processor @ 2.60GHz", "GenuineIntel")
    assert flags == {"avx2", "avx512f", "avx512_vnni"}
    assert st.parse_cpuinfo(ARM_CPUINFO) == ("unknown CPU", "0x41", {"asimd"})


def test_the_machine_is_described_with_its_vector_extensions(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(EPYC_CPUINFO, encoding="utf-8")
    m = st.detect(info)
    assert m.cpu == "AMD EPYC 7B13" and m.flags == {"avx2"}
    assert m.cores >= 1 and m.cuda_devices == ctranslate2.get_cuda_device_count()
    assert m.describe().startswith(f"AMD EPYC 7B13 (avx2), {m.cores} cores")
    plain = dataclasses.replace(m, flags=frozenset())
    assert "(none of avx2/avx512f/avx512_vnni)" in plain.describe()


# ----------------------------------------------------------------------- deciding


@pytest.mark.parametrize(
    ("requested", "gpus", "device"),
    [("auto", 0, "cpu"), ("auto", 2, "cuda"), ("cpu", 1, "cpu"), ("cuda", 1, "cuda")],
)
def test_device_decision(requested: str, gpus: int, device: str) -> None:
    assert st.choose_device(requested, gpus) == device


def test_cuda_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(TranslateError, match=r'device = "cuda".*no CUDA device.*"auto"'):
        st.choose_device("cuda", 0)


def test_rules_two_cores_two_batches_in_flight_one_thread_each() -> None:
    s = st.choose(ModelsConfig(), machine(2), supported)
    assert (s.device, s.compute_type, s.inter_threads, s.intra_threads) == ("cpu", "int8", 2, 1)
    assert s.batches_in_flight == 2
    assert s.batch_tokens == 768 // 2  # the memory bound is shared, not doubled
    assert s.chosen_by == "rules"


@pytest.mark.parametrize(("cores", "inter", "intra"), [(1, 1, 1), (4, 2, 2), (16, 2, 8)])
def test_rules_for_other_core_counts(cores: int, inter: int, intra: int) -> None:
    s = st.choose(ModelsConfig(), machine(cores), supported)
    assert (s.inter_threads, s.intra_threads) == (inter, intra)
    assert s.batch_tokens == 768 // inter


def test_a_gpu_gets_one_worker_and_half_precision() -> None:
    s = st.choose(ModelsConfig(), machine(2, gpus=1), supported)
    assert (s.device, s.compute_type, s.inter_threads) == ("cuda", "int8_float16", 1)
    no_int8 = st.choose(ModelsConfig(), machine(2, gpus=1), lambda d: {"float16", "float32"})
    assert no_int8.compute_type == "float16"


def test_no_int8_on_the_cpu_keeps_the_models_own_type() -> None:
    s = st.choose(ModelsConfig(), machine(2), lambda d: {"float32"})
    assert s.compute_type == "default"


def test_models_keys_win_over_the_rules() -> None:
    cfg = ModelsConfig(device="cpu", compute_type="float32", inter_threads=1, max_batch_tokens=512)
    s = st.choose(cfg, machine(4, gpus=1), supported)
    assert (s.device, s.compute_type, s.inter_threads, s.intra_threads) == ("cpu", "float32", 1, 4)
    assert s.batch_tokens == 512
    assert s.chosen_by == "rules; device, compute_type, inter_threads from [models]"
    both = st.choose(ModelsConfig(inter_threads=3, intra_threads=5), machine(2), supported)
    assert (both.inter_threads, both.intra_threads) == (3, 5)
    assert "inter_threads, intra_threads from [models]" in both.describe()


def test_a_compute_type_the_device_lacks_falls_back_to_the_models_own() -> None:
    s = st.choose(ModelsConfig(compute_type="bfloat16"), machine(2), supported)
    assert s.compute_type == "default"


def settings(inter: int, batch_tokens: int = 768) -> st.Settings:
    return st.Settings("cpu", "int8", inter, 1, batch_tokens, "rules")


def test_the_memory_bound_is_in_decoding_tokens_beams_included() -> None:
    assert st.batch_size(settings(1), 4) == 768 // 4
    assert st.batch_size(settings(2, batch_tokens=384), 4) == 384 // 4


def test_one_worker_or_a_large_call_is_one_call() -> None:
    assert st.worker_groups(settings(1), 4, [20, 20, 20]) == [[0, 1, 2]]
    big = [30] * 20  # 600 source tokens > 2 workers × 96: CTranslate2 cuts it itself
    assert st.worker_groups(settings(2, batch_tokens=384), 4, big) == [list(range(20))]
    assert st.worker_groups(settings(2), 4, [20]) == [[0]]


@given(
    hst.lists(hst.integers(1, 250), min_size=2, max_size=40),
    hst.integers(2, 4),
    hst.sampled_from([1, 2, 4]),
)
def test_a_small_call_is_cut_into_one_group_per_worker(
    lengths: list[int], inter: int, beam: int
) -> None:
    s = settings(inter, batch_tokens=768 // inter)
    groups = st.worker_groups(s, beam, lengths)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    if sum(lengths) > inter * st.batch_size(s, beam):
        assert len(groups) == 1
        return
    assert len(groups) == min(inter, len(lengths)) and all(groups)
    sums = [sum(lengths[i] for i in g) for g in groups]
    assert max(sums) - min(sums) <= max(lengths)  # balanced: no worker waits long


# ---------------------------------------------------------------------- the engine


def test_the_engine_logs_and_uses_its_settings(
    installed_models: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syncd.translate.engine")
    engine = ArgosEngine(installed_models, ModelsConfig(device="cpu", beam_size=2))
    (t,) = engine.translate([TranslationRequest("r", "de", "zh", "Hallo Welt.", "", "")])
    assert isinstance(t, Translation) and t.title == "你好世界。"
    chosen = engine.settings()
    assert chosen.device == "cpu" and chosen.chosen_by == "rules; device from [models]"
    events = {r.getMessage(): r.__dict__["syncd_fields"] for r in caplog.records}
    assert events["translation-settings"]["inter_threads"] == chosen.inter_threads
    assert events["model-loaded"]["device"] == "cpu"
    assert events["model-loaded"]["compute_type"] in CPU_TYPES | {"default"}


def test_parallel_batches_translate_exactly_like_one_worker(installed_models: Path) -> None:
    body = "".join(
        f"<p>Hallo Welt. Willkommen in Düren! Die Stadt hat {n} Einwohner.</p>" for n in range(6)
    )
    reqs = [TranslationRequest(str(i), "de", "zh", "Hallo Welt.", "", body) for i in range(3)]
    outs = []
    for inter in (1, 2):
        cfg = ModelsConfig(beam_size=2, inter_threads=inter, intra_threads=1)
        engine = ArgosEngine(installed_models, cfg)
        outs.append(engine.translate(reqs))
        assert engine.settings().inter_threads == inter
    assert outs[0] == outs[1]
    assert all(isinstance(t, Translation) for t in outs[0])


def test_cuda_asked_for_without_a_gpu_fails_each_item_and_check_clearly(
    installed_models: Path, tmp_path: Path
) -> None:
    gpus = ctranslate2.get_cuda_device_count()
    engine = ArgosEngine(installed_models, ModelsConfig(device="cuda"))
    (result,) = engine.translate([TranslationRequest("r", "de", "en", "Hallo Welt.", "", "")])
    if gpus:  # a machine with a GPU runs the CUDA path instead
        assert isinstance(result, Translation)
        return
    assert isinstance(result, TranslateError) and "no CUDA device" in str(result)
    config = write_config(tmp_path, "", "")
    config.write_text(
        config.read_text("utf-8").replace("beam_size = 2", 'beam_size = 2\ndevice = "cuda"'),
        encoding="utf-8",
    )
    r = CliRunner().invoke(main, ["--config", str(config), "check"], catch_exceptions=False)
    assert r.exit_code == 6  # exits: a person is needed
    assert 'FAIL translation: [models] device = "cuda", but CTranslate2 finds no CUDA' in r.output


def test_check_names_the_machine_and_the_settings(tmp_path: Path) -> None:
    config = write_config(tmp_path, "", "")
    r = CliRunner().invoke(main, ["--config", str(config), "check"], catch_exceptions=False)
    m = st.detect()
    expected = st.choose(ModelsConfig(beam_size=2), m, ctranslate2.get_supported_compute_types)
    assert f"note: translation on {m.describe()}: {expected.describe()}" in r.output
