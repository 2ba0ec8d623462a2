"""Decoding settings chosen for the machine: device, compute type, thread layout.

Pure except ``detect()``, which reads ``/proc/cpuinfo`` and asks CTranslate2 for CUDA
devices. The engine calls ``choose(config, machine, supported)`` once, on its first
model load, and logs the result; ``syncd check`` prints it.

How settings are chosen (``[models]`` keys set to anything but ``"auto"``/``0`` win):

    device         "auto": CUDA when CTranslate2 finds a GPU, else the CPU;
                   "cuda" without a GPU is a ``TranslateError`` saying so
    compute_type   CPU: int8 when the CPU supports it (Argos models keep their other
                   weights in float32, so CTranslate2 runs "int8" as int8_float32);
                   CUDA: int8_float16, else float16, else the model's own type
    inter_threads  CPU: batches decoded in parallel, one worker each: as many as
                   cores, at most ``MAX_IN_FLIGHT``; CUDA: 1
    intra_threads  CPU: the cores left per worker (cores // inter_threads), at least 1
    batch tokens   ``max_batch_tokens`` is split across the batches in flight, so a
                   process decodes at most ``max_batch_tokens`` tokens at once whatever
                   the layout (the memory budget of docs/performance.md holds)

These are rules backed by measurements, not a calibration run on first load: on the
shared 2-vCPU machines this was built on, one configuration's time varied by up to 2×
from one run to the next, so a calibration of a few seconds would store a coin flip
for good. The measurements (``bench/translate.py``'s sweep, docs/performance.md): two
batches in flight with one thread each beat one batch with two threads on both 2-vCPU
CPUs measured (an Intel Xeon with AVX-512 VNNI, and an AMD EPYC with AVX2 only in
issue 13), presumably because the OpenMP threads of one batch wait for each other at
every decoding step, which costs most when other processes share the cores; int8 beat float32 on both and int16 on the
Xeon. Beyond two cores the layout is extrapolated, not measured.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import ModelsConfig
from ..errors import TranslateError

#: the most batches decoded at once: every batch in flight holds its own decoding
#: buffers, so more workers share ``max_batch_tokens`` in ever smaller batches; two
#: is what was measured (docs/performance.md), more cores get more intra threads
MAX_IN_FLIGHT = 2

#: CPU flags that decide CTranslate2's kernels (x86: its ISA dispatch; VNNI and AMX
#: speed up int8), reported by ``syncd check`` and the benchmark
VECTOR_FLAGS = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
)

DEVICES = ("auto", "cpu", "cuda")
CPU_INT8 = "int8"
CUDA_PREFERENCE = ("int8_float16", "float16")
AUTO = "auto"


@dataclass(frozen=True)
class Machine:
    """What the engine runs on."""

    cpu: str  # model name, e.g. "AMD EPYC 7B13"
    vendor: str  # GenuineIntel, AuthenticAMD, …
    flags: frozenset[str]  # of VECTOR_FLAGS, those the CPU has
    cores: int  # usable by this process
    cuda_devices: int = 0

    @property
    def vector_extensions(self) -> str:
        found = [f for f in VECTOR_FLAGS if f in self.flags]
        return " ".join(found) if found else "none of " + "/".join(VECTOR_FLAGS[:3])

    def describe(self) -> str:
        gpus = f", {self.cuda_devices} CUDA device(s)" if self.cuda_devices else ""
        return f"{self.cpu} ({self.vector_extensions}), {self.cores} cores{gpus}"


@dataclass(frozen=True)
class Settings:
    """How the engine decodes. ``batch_tokens`` counts decoding tokens per batch,
    beams included (``max_batch_tokens`` split over ``inter_threads`` batches)."""

    device: str
    compute_type: str
    inter_threads: int
    intra_threads: int
    batch_tokens: int
    chosen_by: str  # which keys came from the config, which from the rules

    @property
    def batches_in_flight(self) -> int:
        return self.inter_threads

    def describe(self) -> str:
        return (
            f"device {self.device}, compute_type {self.compute_type}, "
            f"{self.inter_threads} batch(es) in flight (inter_threads) × "
            f"{self.intra_threads} thread(s) each (intra_threads), "
            f"≤ {self.batch_tokens} decoding tokens per batch ({self.chosen_by})"
        )

    def as_fields(self) -> dict[str, str | int]:
        """For a log line."""
        return {
            "device": self.device,
            "compute_type": self.compute_type,
            "inter_threads": self.inter_threads,
            "intra_threads": self.intra_threads,
            "batch_tokens": self.batch_tokens,
            "chosen_by": self.chosen_by,
        }


# ---------------------------------------------------------------------- deciding


def choose_device(requested: str, cuda_devices: int) -> str:
    """``"cpu"`` or ``"cuda"`` for the ``device`` key; a ``TranslateError`` when CUDA
    is asked for and CTranslate2 finds no GPU (a CPU-only build or no driver)."""
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {requested!r}")  # config bug
    if requested == "cpu":
        return "cpu"
    if cuda_devices > 0:
        return "cuda"
    if requested == "cuda":
        raise TranslateError(
            '[models] device = "cuda", but CTranslate2 finds no CUDA device '
            "(ctranslate2.get_cuda_device_count() is 0: no NVIDIA GPU, no driver, or a "
            'CPU-only build); set device = "auto" or "cpu"'
        )
    return "cpu"


def choose(
    config: ModelsConfig,
    machine: Machine,
    supported: Callable[[str], Iterable[str]],
) -> Settings:
    """The settings for ``machine``: every ``[models]`` key that is set wins, the
    rules above fill in the rest. ``supported(device)`` lists the compute types
    CTranslate2 supports there (``ctranslate2.get_supported_compute_types``)."""
    device = choose_device(config.device, machine.cuda_devices)
    types = set(supported(device))
    by_config: list[str] = []
    if config.device != AUTO:
        by_config.append("device")
    if config.compute_type != AUTO:
        # an explicit type the device cannot do falls back to the model's own
        compute = config.compute_type if config.compute_type in types else "default"
        by_config.append("compute_type")
    elif device == "cuda":
        compute = next((t for t in CUDA_PREFERENCE if t in types), "default")
    else:
        compute = CPU_INT8 if CPU_INT8 in types else "default"
    cores = max(1, machine.cores)
    if device == "cuda":
        inter, intra = 1, 1
    else:
        inter = min(cores, MAX_IN_FLIGHT)
        intra = max(1, cores // inter)
    if config.inter_threads > 0:
        inter = config.inter_threads
        by_config.append("inter_threads")
        if config.intra_threads <= 0:
            intra = max(1, cores // inter)
    if config.intra_threads > 0:
        intra = config.intra_threads
        by_config.append("intra_threads")
    batch_tokens = max(1, config.max_batch_tokens // inter)
    chosen_by = "rules" if not by_config else f"rules; {', '.join(by_config)} from [models]"
    return Settings(device, compute, inter, intra, batch_tokens, chosen_by)


def batch_size(settings: Settings, beam_size: int) -> int:
    """CTranslate2's ``max_batch_size`` in source tokens (``batch_type="tokens"``).

    ``settings.batch_tokens`` counts decoding tokens, every beam included, because
    that is what decoding memory grows with (docs/performance.md), so neither the beam
    size nor the thread layout moves the memory bound.
    """
    return max(1, settings.batch_tokens // max(1, beam_size))


def worker_groups(settings: Settings, beam_size: int, lengths: Sequence[int]) -> list[list[int]]:
    """The sources (by index) of each ``translate_batch`` call that keeps every worker
    busy; ``lengths`` are their sizes in pieces.

    A call over more than ``inter_threads`` batches' worth of tokens is one call:
    CTranslate2 cuts it into batches and its workers decode them in parallel. A smaller
    call would be one batch and leave the other workers idle, so it is cut into
    ``inter_threads`` groups of about equal tokens (longest first, each to the lightest
    group), each submitted on its own, all in flight at once.
    """
    everything = [list(range(len(lengths)))]
    k = min(settings.inter_threads, len(lengths))
    if k <= 1 or sum(lengths) > settings.inter_threads * batch_size(settings, beam_size):
        return everything
    groups: list[list[int]] = [[] for _ in range(k)]
    sums = [0] * k
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        lightest = sums.index(min(sums))
        groups[lightest].append(i)
        sums[lightest] += lengths[i]
    return [sorted(g) for g in groups]


# ---------------------------------------------------------------------- detecting


def parse_cpuinfo(text: str) -> tuple[str, str, frozenset[str]]:
    """(model name, vendor, vector flags) from ``/proc/cpuinfo`` text (x86 or ARM)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key not in fields:
            fields[key] = value.strip()
    model = fields.get("model name") or fields.get("hardware") or fields.get("cpu model") or ""
    vendor = fields.get("vendor_id") or fields.get("cpu implementer") or ""
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    return model or "unknown CPU", vendor, frozenset(f for f in VECTOR_FLAGS if f in flags)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours taskset and cpusets
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def detect(cpuinfo: Path = Path("/proc/cpuinfo")) -> Machine:
    """The machine this process runs on (CTranslate2 is imported to count GPUs)."""
    import platform

    import ctranslate2

    try:
        model, vendor, flags = parse_cpuinfo(cpuinfo.read_text(encoding="utf-8", errors="replace"))
    except OSError:  # not Linux
        model, vendor, flags = platform.processor() or "unknown CPU", "", frozenset()
    model = re.sub(r"\s+", " ", model)
    return Machine(model, vendor, flags, _cores(), ctranslate2.get_cuda_device_count())
