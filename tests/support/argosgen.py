"""Deterministic, generated Argos Translate packages for tests and benchmarks.

Nothing here downloads anything: a package is built from a small dictionary with
numpy, SentencePiece and CTranslate2 alone, so tests can assert exact strings and
benchmarks can run a model of the real Argos shape without fetching 80 MB.

How a generated model translates
--------------------------------
Word by word: output token ``t`` is ``dictionary[input token t]``; every other
SentencePiece piece is copied unchanged, and characters outside the vocabulary
come out as ``<unk>`` and are copied back by CTranslate2's ``replace_unknowns``
(which argostranslate always passes).  Dictionary keys and values are
SentencePiece *pieces*: a leading ``▁`` marks a piece that starts a word (it
follows a space or starts the sentence); a piece without it attaches to the
previous one.  Chinese has no spaces, so Chinese words carry no ``▁`` except at
the start of a sentence, where SentencePiece's dummy prefix puts one: that is why
the zh dictionaries hold both ``你好`` and ``▁你好`` (the latter gives the
capitalised English word).  Each key and value is a user-defined SentencePiece
symbol (always one piece, matched longest-first, also inside longer words:
``Dürener`` -> ``▁Düren`` ``e`` ``r``); other text falls back to single
characters.  Numbers are copied digit by digit, and the space before them stays,
so ``hat 90000 Einwohner`` -> ``有 90000居民``.

Samples (``SAMPLES``; exact outputs of ``argostranslate.translate.translate`` on
the packages of ``standard_packages``, pivots through English as Argos does)::

    de->en  Hallo Welt.                        Hello world.
    en->zh  Hello world.                       你好世界。
    de->zh  Hallo Welt.                        你好世界。
    zh->en  你好世界。                          Hello world.
    en->de  Hello world.                       Hallo Welt.
    zh->de  你好世界。                          Hallo Welt.
    de->en  Heute besucht der Bürgermeister von Düren die Partnerstadt Jinhua.
            Today visits the mayor of Düren the twin-city Jinhua.
    de->zh  (same)  今天访问该市长的迪伦该友好城市金华。
    zh->en  今天访问该市长的迪伦该友好城市金华。
            Today visits the mayor of Düren the twin-city Jinhua.
    de->en  Düren ist eine Stadt in Deutschland. Jinhua ist eine Stadt in China.
            Düren is a city in Germany. Jinhua is a city in China.
    de->zh  (same)  迪伦是一个城市在德国。金华是一个城市在中国。
    de->zh  Düren hat 90000 Einwohner.         迪伦有 90000居民。
    zh->de  迪伦有 90000居民。                  Düren hat 90000 Einwohner.
    de->en  Das neue Museum kostet 5 €.        The new museum costs 5 €.     (€ is <unk>)
    de->zh  Frank besucht Jinhua.              Frank访问金华。                (copied letters)
    zh->en  你好世界！该市长访问金华。          Hello world! The mayor visits Jinhua.
    zh->de  (same)  Hallo Welt! Der Bürgermeister besucht Jinhua.
    en->de  The new museum opens today.        Der neue Museum eröffnet heute.

The model (the technique, so it can be checked)
-----------------------------------------------
A pre-norm CTranslate2 Transformer with final norms, biases, ReLU and a learned
position table.  Source positions are coded as ``hi = p // 32`` and
``lo = p % 32`` (512 positions).  Only the first encoder and the first decoder
layer do work; the others pass the residual stream through (zero weights for
``tiny``; random weights of ~1e-5 for ``argos``, which cost the same as real
ones).

* Every real piece (not the ``argos`` padding) owns a residual direction.  The
  encoder row for position ``p`` holds that one-hot, a key code (``hi`` one-hot,
  an empty second ``hi`` block, ``lo`` one-hot) and the complement of the key
  code, so every row has the same mean and variance and each layer norm is set
  to the identity (gamma = std, beta = mean).
* Encoder layer 0's FFN rewrites the key of the source ``</s>`` (appended by
  ``add_source_eos``) at position ``n`` into "every position >= n".
* Decoder step ``t`` queries its own position code; a score is 30 per matching
  code entry.  At ``t < n`` position ``t`` scores 60 and every other row at most
  30 (softmax weight < 512 * e**-30 off target); at ``t >= n`` the ``</s>`` row
  scores 60 or 90 and every other row at most 30.  So the best beam ends at step
  ``n`` and the alternatives one step later, as argostranslate's defaults need
  (beam 4 and ``length_penalty=0.2``, which disables CTranslate2's early exit).
  Every head attends the same way; head 0 of layer 0 is the alignment head used
  by ``replace_unknowns``.
* The values copy the token one-hot into the decoder; the output projection
  maps piece ``i`` to ``dictionary.get(i, i)`` with a logit of 30.

All inputs of the functional int8 matrix products are 0 or 1 and every
functional weight row has a single magnitude, so int8 quantization is exact
(tests/test_argosgen.py and bench/make_argos_size_model.py check the built
files).  ``argos`` writes a 124 MB model.bin where Argos's real en_zh 1.9 has
83 MB, presumably because real models share their embedding tables; here the
encoder embeddings, decoder embeddings and output projection each do a
different job.  Embedding tables are only gathered, so the cost per token is
unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import json
import re
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

WORD = "\u2581"  # SentencePiece's word-start marker "▁"

LANGUAGE_NAMES = {"de": "German", "en": "English", "zh": "Chinese"}

# (German, English, Chinese).  For duplicates the first row wins in the reverse
# direction (en->de "the" -> "der", "a" -> "eine"; zh->en "新" -> "new").
LEXICON: tuple[tuple[str, str, str], ...] = (
    ("Hallo", "Hello", "你好"),  # an interjection: capitalised in both
    ("Welt", "world", "世界"),
    ("Düren", "Düren", "迪伦"),
    ("Jinhua", "Jinhua", "金华"),
    ("China", "China", "中国"),
    ("Deutschland", "Germany", "德国"),
    ("Bürgermeister", "mayor", "市长"),
    ("Stadt", "city", "城市"),
    ("Partnerstadt", "twin-city", "友好城市"),
    ("Museum", "museum", "博物馆"),
    ("Ausstellung", "exhibition", "展览"),
    ("Delegation", "delegation", "代表团"),
    ("Nachrichten", "news", "新闻"),
    ("Einwohner", "inhabitants", "居民"),
    ("Kultur", "culture", "文化"),
    ("neue", "new", "新"),
    ("neues", "new", "新"),
    ("neuen", "new", "新"),
    ("heute", "today", "今天"),
    ("besucht", "visits", "访问"),
    ("eröffnet", "opens", "开放"),
    ("kostet", "costs", "花费"),
    ("hat", "has", "有"),
    ("ist", "is", "是"),
    ("der", "the", "该"),
    ("die", "the", "该"),
    ("das", "the", "该"),
    ("eine", "a", "一个"),
    ("ein", "a", "一个"),
    ("und", "and", "和"),
    ("in", "in", "在"),
    ("von", "of", "的"),
    ("aus", "from", "来自"),
    ("mit", "with", "与"),
    ("willkommen", "welcome", "欢迎"),
)

# English punctuation <-> Chinese full-width punctuation (de<->en copy theirs).
PUNCTUATION_EN_ZH: tuple[tuple[str, str], ...] = (
    (".", "。"),
    (",", "，"),
    ("!", "！"),
    ("?", "？"),
    (":", "："),
    (";", "；"),
    ("(", "（"),
    (")", "）"),
)


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def _put(mapping: dict[str, str], key: str, value: str) -> None:
    mapping.setdefault(key, value)  # first definition wins


def _latin_to_latin(src: int, dst: int) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for row in LEXICON:
        _put(mapping, WORD + row[src], WORD + row[dst])
    for row in LEXICON:  # sentence-initial forms
        _put(mapping, WORD + _cap(row[src]), WORD + _cap(row[dst]))
    return mapping


def _en_to_zh() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for _de, en, zh in LEXICON:
        _put(mapping, WORD + en, zh)
        _put(mapping, WORD + _cap(en), zh)
    for en_p, zh_p in PUNCTUATION_EN_ZH:
        _put(mapping, en_p, zh_p)
    return mapping


def _zh_to_en() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for _de, en, zh in LEXICON:
        _put(mapping, zh, WORD + en)
        _put(mapping, WORD + zh, WORD + _cap(en))  # sentence start (dummy prefix)
    for en_p, zh_p in PUNCTUATION_EN_ZH:
        _put(mapping, zh_p, en_p)
    _put(mapping, "、", ",")
    return mapping


DE_EN: dict[str, str] = _latin_to_latin(0, 1)
EN_DE: dict[str, str] = _latin_to_latin(1, 0)
EN_ZH: dict[str, str] = _en_to_zh()
ZH_EN: dict[str, str] = _zh_to_en()

DICTIONARIES: dict[tuple[str, str], dict[str, str]] = {
    ("de", "en"): DE_EN,
    ("en", "zh"): EN_ZH,
    ("zh", "en"): ZH_EN,
    ("en", "de"): EN_DE,
}

_HELLO_DE = "Heute besucht der Bürgermeister von Düren die Partnerstadt Jinhua."
_HELLO_EN = "Today visits the mayor of Düren the twin-city Jinhua."
_HELLO_ZH = "今天访问该市长的迪伦该友好城市金华。"
_TWO_DE = "Düren ist eine Stadt in Deutschland. Jinhua ist eine Stadt in China."

# (from_code, to_code, source, expected): exact argostranslate output.
SAMPLES: list[tuple[str, str, str, str]] = [
    ("de", "en", "Hallo Welt.", "Hello world."),
    ("en", "zh", "Hello world.", "你好世界。"),
    ("de", "zh", "Hallo Welt.", "你好世界。"),
    ("zh", "en", "你好世界。", "Hello world."),
    ("en", "de", "Hello world.", "Hallo Welt."),
    ("zh", "de", "你好世界。", "Hallo Welt."),
    ("de", "en", _HELLO_DE, _HELLO_EN),
    ("de", "zh", _HELLO_DE, _HELLO_ZH),
    ("zh", "en", _HELLO_ZH, _HELLO_EN),
    ("de", "en", _TWO_DE, "Düren is a city in Germany. Jinhua is a city in China."),
    ("de", "zh", _TWO_DE, "迪伦是一个城市在德国。金华是一个城市在中国。"),
    ("de", "zh", "Düren hat 90000 Einwohner.", "迪伦有 90000居民。"),
    ("zh", "de", "迪伦有 90000居民。", "Düren hat 90000 Einwohner."),
    ("de", "en", "Das neue Museum kostet 5 €.", "The new museum costs 5 €."),
    ("de", "zh", "Frank besucht Jinhua.", "Frank访问金华。"),
    ("zh", "en", "你好世界！该市长访问金华。", "Hello world! The mayor visits Jinhua."),
    ("zh", "de", "你好世界！该市长访问金华。", "Hallo Welt! Der Bürgermeister besucht Jinhua."),
    ("en", "de", "The new museum opens today.", "Der neue Museum eröffnet heute."),
]

# Characters SentencePiece keeps as single pieces (copied unless in a dictionary).
# "€" is deliberately absent: it exercises the <unk> + replace_unknowns path.
ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "äöüÄÖÜßéèêëàâçîïôûùñÉÈ"
    ".,;:!?-–—()[]\"'„“”‘’«»/&%+*=#@$§°…"
    "。，！？：；、（）《》「」"
)

# Sentence splitter rule (ours and the generated MiniSBD model's): split after a
# run of terminators if the run ends with a CJK terminator or is followed by
# whitespace or the end of the paragraph.
TERMINATORS = ".!?。！？"
CJK_TERMINATORS = "。！？"

# Position code of the generated models.
_HI, _LO = 16, 32
MAX_POSITIONS = _HI * _LO  # source pieces + </s> must fit
_KEY = 2 * _HI + _LO  # hi block, second hi block, lo block
_SCORE = 30.0  # attention score per matching key entry
_LOGIT = 30.0  # logit of the dictionary target


@dataclass(frozen=True)
class _Size:
    layers: int
    heads: int
    d_model: int | None  # None: as small as the vocabulary allows
    ffn: int | None
    vocab: int | None  # None: no padding pieces
    noise: float  # std of pass-through weights
    quantization: str


SIZES: dict[str, _Size] = {
    "tiny": _Size(1, 1, None, None, None, 0.0, "int8"),
    "argos": _Size(6, 8, 512, 2048, 50_000, 1e-5, "int8"),
}

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# ----------------------------------------------------------------------------
# SentencePiece
# ----------------------------------------------------------------------------


def _check_piece(piece: str) -> None:
    if not piece or piece == WORD or any(c.isspace() for c in piece):
        raise ValueError(f"not a SentencePiece piece: {piece!r}")
    if WORD in piece[1:]:
        raise ValueError(f"{WORD!r} may only start a piece: {piece!r}")
    if piece in ("<unk>", "<s>", "</s>"):
        raise ValueError(f"reserved piece: {piece!r}")


def _padding_pieces(count: int) -> list[str]:
    # Supplementary Private Use Area A: never in real text.
    if count > 0xFFFE:
        raise ValueError("too many padding pieces")
    return [chr(0xF0000 + i) for i in range(count)]


def train_sentencepiece(dictionary: Mapping[str, str], *, vocab_size: int | None = None) -> bytes:
    """A char-level SentencePiece model whose pieces include every key and value.

    Deterministic (single thread, no sampling).  With ``vocab_size`` the
    vocabulary is padded with private-use characters up to that size.
    """
    import sentencepiece as spm

    symbols: list[str] = []
    for piece in [*dictionary.keys(), *dictionary.values()]:
        _check_piece(piece)
        if piece not in symbols:
            symbols.append(piece)
    # Alphabet characters are user-defined symbols too, so the training text
    # cannot swallow them; the only piece left to training is "▁" itself.
    alphabet = [c for c in dict.fromkeys(ALPHABET) if c not in symbols]
    symbols += alphabet
    real = 3 + len(symbols) + 1  # <unk> <s> </s>, symbols, "▁"
    if vocab_size is not None:
        if vocab_size < real:
            raise ValueError(f"vocab_size {vocab_size} < {real} real pieces")
        symbols += _padding_pieces(vocab_size - real)
    writer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([" ".join(alphabet)]),
        model_writer=writer,
        model_type="char",
        vocab_size=3 + len(symbols) + 1,
        hard_vocab_limit=False,
        user_defined_symbols=symbols,
        normalization_rule_name="identity",
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
    )
    proto = writer.getvalue()
    sp = spm.SentencePieceProcessor(model_proto=proto)
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    if pieces != ["<unk>", "<s>", "</s>", *symbols, WORD]:
        raise RuntimeError("unexpected SentencePiece vocabulary")
    return proto


# ----------------------------------------------------------------------------
# CTranslate2 model
# ----------------------------------------------------------------------------


def _identity_norm(spec: Any, d: int, ones: int, eps: float) -> None:
    """gamma/beta so that LayerNorm(x) == x for every x with ``ones`` ones and zeros."""
    mean = ones / d
    std = float(np.sqrt(mean - mean * mean + eps))
    spec.gamma = np.full(d, std, dtype=np.float32)
    spec.beta = np.full(d, mean, dtype=np.float32)


class _Weights:
    """Produces pass-through weights: zeros (tiny) or N(0, noise) (argos)."""

    def __init__(self, noise: float, seed: int) -> None:
        self.noise = noise
        self.rng = np.random.default_rng(seed)

    def __call__(self, *shape: int) -> np.ndarray:
        if self.noise == 0.0:
            return np.zeros(shape, dtype=np.float32)
        out = self.rng.standard_normal(shape, dtype=np.float32)
        out *= np.float32(self.noise)
        return out

    def norm(self, spec: Any, d: int) -> None:
        spec.gamma = np.ones(d, dtype=np.float32)
        spec.beta = np.zeros(d, dtype=np.float32)

    def linear(self, spec: Any, out_dim: int, in_dim: int) -> None:
        spec.weight = self(out_dim, in_dim)
        spec.bias = self(out_dim)


def _fill_pass_through_encoder_layer(layer: Any, d: int, ffn: int, w: _Weights) -> None:
    w.norm(layer.self_attention.layer_norm, d)
    w.linear(layer.self_attention.linear[0], 3 * d, d)
    w.linear(layer.self_attention.linear[1], d, d)
    w.norm(layer.ffn.layer_norm, d)
    w.linear(layer.ffn.linear_0, ffn, d)
    w.linear(layer.ffn.linear_1, d, ffn)


def _fill_pass_through_decoder_layer(layer: Any, d: int, ffn: int, w: _Weights) -> None:
    w.norm(layer.self_attention.layer_norm, d)
    w.linear(layer.self_attention.linear[0], 3 * d, d)
    w.linear(layer.self_attention.linear[1], d, d)
    w.norm(layer.attention.layer_norm, d)
    w.linear(layer.attention.linear[0], d, d)
    w.linear(layer.attention.linear[1], 2 * d, d)
    w.linear(layer.attention.linear[2], d, d)
    w.norm(layer.ffn.layer_norm, d)
    w.linear(layer.ffn.linear_0, ffn, d)
    w.linear(layer.ffn.linear_1, d, ffn)


def build_ctranslate2_model(
    model_dir: Path,
    pieces: Sequence[str],
    dictionary: Mapping[str, str],
    *,
    size: str = "tiny",
    seed: int = 0,
) -> None:
    """Writes a CTranslate2 model translating ``pieces`` word by word.

    ``pieces`` is the shared vocabulary (SentencePiece order, ids 0-2 are
    ``<unk> <s> </s>``); pieces in the Supplementary Private Use Area are padding
    without a residual direction.
    """
    from ctranslate2.specs import transformer_spec

    cfg = SIZES[size]
    vocab = len(pieces)
    if list(pieces[:3]) != ["<unk>", "<s>", "</s>"]:
        raise ValueError("pieces must start with <unk> <s> </s>")
    index = {p: i for i, p in enumerate(pieces)}
    real = [i for i, p in enumerate(pieces) if not (len(p) == 1 and 0xF0000 <= ord(p) <= 0xFFFFD)]
    slot = {i: k for k, i in enumerate(real)}  # piece id -> residual direction
    n_real = len(real)
    for key, value in dictionary.items():
        if key not in index or value not in index:
            raise ValueError(f"dictionary entry {key!r}: {value!r} is not in the vocabulary")

    need = n_real + 2 * _KEY
    if cfg.d_model is None:
        d = -(-need // 16) * 16
    else:
        d = cfg.d_model
        if need > d:
            raise ValueError(f"{n_real} real pieces need d_model >= {need}, have {d}")
    heads = cfg.heads
    dh = d // heads
    if dh < _KEY:
        raise ValueError("head dimension too small for the position code")
    ffn = cfg.ffn or (_HI + _LO)
    eps = 1e-6
    w = _Weights(cfg.noise, seed)
    f32 = np.float32

    # Encoder residual layout: token one-hot | key code | complement of key code.
    key0 = n_real  # hiA: key0 + h, hiB: key0 + H + h, lo: key0 + 2H + l
    comp0 = n_real + _KEY
    # Decoder residual layout: copied token one-hot | hi one-hot | lo one-hot.
    dhi0 = n_real
    dlo0 = n_real + _HI
    eos = slot[2]

    def hi(p: int) -> int:
        return p // _LO

    def lo(p: int) -> int:
        return p % _LO

    spec = transformer_spec.TransformerSpec(
        transformer_spec.TransformerEncoderSpec(cfg.layers, heads, pre_norm=True),
        transformer_spec.TransformerDecoderSpec(
            cfg.layers, heads, pre_norm=True, alignment_layer=0, alignment_heads=1
        ),
    )
    spec.config.add_source_eos = True
    spec.config.layer_norm_epsilon = eps
    enc, dec = spec.encoder, spec.decoder
    enc.scale_embeddings = False
    dec.scale_embeddings = False

    # --- encoder input
    emb = w(vocab, d)
    for i in real:
        emb[i] = 0.0
        emb[i, slot[i]] = 1.0
    enc.embeddings[0].weight = emb
    pos = np.zeros((MAX_POSITIONS, d), dtype=f32)
    pos[:, comp0 : comp0 + _KEY] = 1.0
    for p in range(MAX_POSITIONS):
        for k in (key0 + hi(p), key0 + 2 * _HI + lo(p)):
            pos[p, k] = 1.0
            pos[p, k - key0 + comp0] = 0.0
    enc.position_encodings.encodings = pos

    # --- encoder layer 0: self-attention passes through; the FFN rewrites the
    # key of </s> at position n into hiA=[h>=hi(n)], hiB=[h>hi(n)], lo=[l>=lo(n)].
    layer = enc.layer[0]
    _fill_pass_through_encoder_layer(layer, d, ffn, w)
    ones = 1 + _KEY
    _identity_norm(layer.ffn.layer_norm, d, ones, eps)
    w0 = np.zeros((ffn, d), dtype=f32)
    b0 = np.zeros(ffn, dtype=f32)
    w1 = np.zeros((d, ffn), dtype=f32)
    for h in range(_HI):  # unit h: </s> and hi(n) < h
        w0[h, eos] = 1.0
        w0[h, key0 : key0 + h] = 1.0
        b0[h] = -1.0
        for k in (key0 + h, key0 + _HI + h):
            w1[k, h] = 1.0
            w1[k - key0 + comp0, h] = -1.0
    for l_ in range(_LO):  # unit H + l: </s> and lo(n) < l
        u = _HI + l_
        w0[u, eos] = 1.0
        w0[u, key0 + 2 * _HI : key0 + 2 * _HI + l_] = 1.0
        b0[u] = -1.0
        w1[key0 + 2 * _HI + l_, u] = 1.0
        w1[comp0 + 2 * _HI + l_, u] = -1.0
    if cfg.noise:  # the other units are pass-through noise like the other layers'
        w0[_HI + _LO :] = layer.ffn.linear_0.weight[_HI + _LO :]
        b0[_HI + _LO :] = layer.ffn.linear_0.bias[_HI + _LO :]
        w1[:, _HI + _LO :] = layer.ffn.linear_1.weight[:, _HI + _LO :]
    layer.ffn.linear_0.weight = w0
    layer.ffn.linear_0.bias = b0
    layer.ffn.linear_1.weight = w1
    layer.ffn.linear_1.bias = np.zeros(d, dtype=f32)
    for extra in enc.layer[1:]:
        _fill_pass_through_encoder_layer(extra, d, ffn, w)
    _identity_norm(enc.layer_norm, d, ones, eps)

    # --- decoder input: position code only (token embeddings carry nothing).
    dec.embeddings.weight = w(vocab, d)
    dpos = np.zeros((MAX_POSITIONS, d), dtype=f32)
    for p in range(MAX_POSITIONS):
        dpos[p, dhi0 + hi(p)] = 1.0
        dpos[p, dlo0 + lo(p)] = 1.0
    dec.position_encodings.encodings = dpos

    # --- decoder layer 0: cross-attention to the source position of this step.
    layer = dec.layer[0]
    _fill_pass_through_decoder_layer(layer, d, ffn, w)
    att = layer.attention
    _identity_norm(att.layer_norm, d, 2, eps)
    scale = _SCORE * float(np.sqrt(dh))  # CTranslate2 divides queries by sqrt(dh)
    wq = np.zeros((d, d), dtype=f32)
    wkv = np.zeros((2 * d, d), dtype=f32)
    wo = np.zeros((d, d), dtype=f32)
    for head in range(heads):
        q0 = head * dh
        for h in range(_HI):
            wq[q0 + h, dhi0 + h] = scale
            wq[q0 + _HI + h, dhi0 + h] = scale
        for l_ in range(_LO):
            wq[q0 + 2 * _HI + l_, dlo0 + l_] = scale
        for k in range(_KEY):
            wkv[q0 + k, key0 + k] = 1.0
    for k in range(n_real):  # values: token one-hot, spread over the heads
        wkv[d + k, k] = 1.0
        wo[k, k] = 1.0
    att.linear[0].weight = wq
    att.linear[0].bias = np.zeros(d, dtype=f32)
    att.linear[1].weight = wkv
    att.linear[1].bias = np.zeros(2 * d, dtype=f32)
    att.linear[2].weight = wo
    att.linear[2].bias = np.zeros(d, dtype=f32)
    for extra in dec.layer[1:]:
        _fill_pass_through_decoder_layer(extra, d, ffn, w)
    _identity_norm(dec.layer_norm, d, 3, eps)

    # --- output projection: source piece i -> dictionary.get(i, i).
    proj = w(vocab, d)
    for i in real:
        proj[i, :n_real] = 0.0
    for i in real:
        target = index[dictionary.get(pieces[i], pieces[i])]
        proj[target, slot[i]] = _LOGIT
    dec.projection.weight = proj
    dec.projection.bias = np.zeros(vocab, dtype=f32)

    spec.register_source_vocabulary(list(pieces))
    spec.register_target_vocabulary(list(pieces))
    spec.validate()
    spec.optimize(quantization=cfg.quantization)
    model_dir.mkdir(parents=True, exist_ok=True)
    spec.save(str(model_dir))


# ----------------------------------------------------------------------------
# MiniSBD sentence splitter
# ----------------------------------------------------------------------------

_SBD_UNITS = ["<PAD>", "<UNK>", " ", ".", "!", "?", "。", "！", "？"]
_SBD_FEATURES = ["space_before", "capitalized", "numeric", "end_of_para", "start_of_para"]


def split_sentences(text: str) -> list[str]:
    """Reference implementation of the generated splitter, as MiniSBD runs it.

    MiniSBD cuts the text into chunks at blank lines, then applies the rule
    within each chunk (any whitespace counts as a space) and returns the
    sentences stripped of surrounding whitespace.
    """
    out: list[str] = []
    for chunk in re.split(r"\n\s*\n", text):
        start = 0
        for i, c in enumerate(chunk):
            nxt = chunk[i + 1] if i + 1 < len(chunk) else ""
            if (
                c in TERMINATORS
                and nxt not in TERMINATORS
                and (c in CJK_TERMINATORS or nxt == "" or nxt.isspace())
            ):
                out.append(chunk[start : i + 1])
                start = i + 1
        out.append(chunk[start:])
    return [s.strip() for s in out if s.strip()]


def build_minisbd_model(lang_code: str) -> bytes:
    """A rule-based sentence splitter in MiniSBD's ONNX format.

    MiniSBD feeds ``units`` (int64 [batch, chars], ids from the ``vocab``
    metadata, every whitespace mapped to " ", 0 = <PAD>) and ``features``
    (float [batch, chars, len(feat_funcs)]) and takes the argmax of output 0
    ([batch, chars, classes]): 0 inside a token, 1 token end, 2 sentence end.
    The ``config``, ``vocab`` and ``lexicon`` JSON live in the model metadata.
    """
    import onnx
    from onnx import TensorProto, helper

    def const(name: str, values: list[int]) -> onnx.NodeProto:
        return helper.make_node(
            "Constant",
            [],
            [name],
            value=helper.make_tensor(name, TensorProto.INT64, [len(values)], values),
        )

    term = _SBD_UNITS.index(".")  # ids >= term are terminators
    cjk = _SBD_UNITS.index("。")  # ids >= cjk are CJK terminators
    space = _SBD_UNITS.index(" ")
    nodes = [
        const("c_term", [term]),
        const("c_cjk", [cjk]),
        const("c_space", [space]),
        const("c_pad", [0]),
        const("c_one", [1]),
        const("c_big", [2**62]),
        # next unit (PAD past the end)
        helper.make_node("Shape", ["units"], ["shape"]),
        helper.make_node("Slice", ["shape", "c_pad", "c_one"], ["batch"]),
        helper.make_node("Concat", ["batch", "c_one"], ["pad_shape"], axis=0),
        helper.make_node(
            "ConstantOfShape",
            ["pad_shape"],
            ["pad"],
            value=helper.make_tensor("v", TensorProto.INT64, [1], [0]),
        ),
        helper.make_node("Slice", ["units", "c_one", "c_big", "c_one"], ["tail"]),
        helper.make_node("Concat", ["tail", "pad"], ["next"], axis=1),
        helper.make_node("GreaterOrEqual", ["units", "c_term"], ["is_term"]),
        helper.make_node("GreaterOrEqual", ["units", "c_cjk"], ["is_cjk"]),
        helper.make_node("GreaterOrEqual", ["next", "c_term"], ["next_term"]),
        helper.make_node("Not", ["next_term"], ["run_end"]),
        helper.make_node("Equal", ["next", "c_space"], ["next_space"]),
        helper.make_node("Equal", ["next", "c_pad"], ["next_pad"]),
        helper.make_node("Or", ["next_space", "next_pad"], ["next_blank"]),
        helper.make_node("Or", ["is_cjk", "next_blank"], ["boundary_ok"]),
        helper.make_node("And", ["is_term", "run_end"], ["term_run_end"]),
        helper.make_node("And", ["term_run_end", "boundary_ok"], ["split"]),
        helper.make_node("Cast", ["split"], ["s"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["s", "s"], ["zero"]),
        helper.make_node("Not", ["split"], ["no_split"]),
        helper.make_node("Cast", ["no_split"], ["ns"], to=TensorProto.FLOAT),
        const("c_last", [-1]),
        helper.make_node("Unsqueeze", ["ns", "c_last"], ["l0"]),
        helper.make_node("Unsqueeze", ["zero", "c_last"], ["l1"]),
        helper.make_node("Unsqueeze", ["s", "c_last"], ["l2"]),
        helper.make_node("Concat", ["l0", "l1", "l2"], ["logits"], axis=2),
    ]
    graph = helper.make_graph(
        nodes,
        "rule_sbd",
        [
            helper.make_tensor_value_info("units", TensorProto.INT64, ["batch", "chars"]),
            helper.make_tensor_value_info(
                "features", TensorProto.FLOAT, ["batch", "chars", len(_SBD_FEATURES)]
            ),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "chars", 3])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="syncd-tests-argosgen",
    )
    model.ir_version = 8
    config = {
        "skip_newline": False,
        "max_seqlen": 1000,
        "no_ssplit": False,
        "batch_size": 32,
        "feat_funcs": _SBD_FEATURES,
        "use_dictionary": False,
        "num_dict_feat": 0,
    }
    vocab = {
        "lang": lang_code,
        "idx": 0,
        "cutoff": 0,
        "lower": False,
        "_unit2id": {u: i for i, u in enumerate(_SBD_UNITS)},
        "_id2unit": _SBD_UNITS,
    }
    helper.set_model_props(
        model,
        {
            "lang_code": lang_code,
            "config": json.dumps(config),
            "vocab": json.dumps(vocab, ensure_ascii=False),
            "lexicon": "null",
        },
    )
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)


# ----------------------------------------------------------------------------
# Packages
# ----------------------------------------------------------------------------


def package_name(from_code: str, to_code: str, version: str = "1.0") -> str:
    """Folder and file stem, as Argos names them: translate-de_en-1_0."""
    return f"translate-{from_code}_{to_code}-{version.replace('.', '_')}"


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:8], "little")


def _zip_dir(root: Path, out: Path) -> None:
    entries = sorted(root.rglob("*"))
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w") as zf:
        info = zipfile.ZipInfo(root.name + "/", _ZIP_DATE)
        info.external_attr = (0o40755 << 16) | 0x10
        zf.writestr(info, b"")
        for path in entries:
            arc = f"{root.name}/{path.relative_to(root).as_posix()}"
            if path.is_dir():
                info = zipfile.ZipInfo(arc + "/", _ZIP_DATE)
                info.external_attr = (0o40755 << 16) | 0x10
                zf.writestr(info, b"")
            else:
                info = zipfile.ZipInfo(arc, _ZIP_DATE)
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with path.open("rb") as src, zf.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    tmp.replace(out)


def build_package(
    out_dir: Path,
    from_code: str,
    to_code: str,
    dictionary: dict[str, str],
    *,
    version: str = "1.0",
    size: str = "tiny",
    with_minisbd: bool = False,
) -> Path:
    """Writes ``<out_dir>/translate-<from>_<to>-<version>.argosmodel`` and returns it.

    ``dictionary`` maps source pieces to target pieces (see the module doc);
    ``size`` is ``"tiny"`` (1+1 layers, builds in well under a second) or
    ``"argos"`` (6+6 layers, d_model 512, 8 heads, FFN 2048, 50,000 pieces,
    int8: the cost of a real Argos model).  ``with_minisbd`` adds
    ``minisbd/<from_code>.onnx`` so argostranslate splits sentences offline.
    The file is byte-for-byte reproducible.
    """
    import sentencepiece as spm

    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = package_name(from_code, to_code, version)
    proto = train_sentencepiece(dictionary, vocab_size=SIZES[size].vocab)
    sp = spm.SentencePieceProcessor(model_proto=proto)
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    metadata = {
        "package_version": version,
        "argos_version": "1.9",
        "from_code": from_code,
        "from_name": LANGUAGE_NAMES.get(from_code, from_code),
        "to_code": to_code,
        "to_name": LANGUAGE_NAMES.get(to_code, to_code),
        "type": "translate",
        "code": f"translate-{from_code}_{to_code}",
        "links": [],
    }
    with tempfile.TemporaryDirectory(prefix="argosgen-") as tmp:
        root = Path(tmp) / name
        root.mkdir()
        (root / "metadata.json").write_text(
            json.dumps(metadata, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        (root / "README.md").write_text(
            f"Generated word-by-word test model ({size}) for {from_code}->{to_code};"
            " see syncd tests/support/argosgen.py.\n",
            encoding="utf-8",
        )
        (root / "sentencepiece.model").write_bytes(proto)
        build_ctranslate2_model(
            root / "model", pieces, dictionary, size=size, seed=_seed(from_code, to_code, version)
        )
        if with_minisbd:
            (root / "minisbd").mkdir()
            (root / "minisbd" / f"{from_code}.onnx").write_bytes(build_minisbd_model(from_code))
        out = out_dir / f"{name}.argosmodel"
        _zip_dir(root, out)
    return out


def standard_packages(
    out_dir: Path, *, size: str = "tiny", with_minisbd: bool = False
) -> dict[tuple[str, str], Path]:
    """Builds de->en, en->zh, zh->en and en->de into ``out_dir``."""
    return {
        pair: build_package(
            Path(out_dir), pair[0], pair[1], dictionary, size=size, with_minisbd=with_minisbd
        )
        for pair, dictionary in DICTIONARIES.items()
    }


def read_metadata(package: Path) -> dict[str, Any]:
    """metadata.json of an .argosmodel file."""
    with zipfile.ZipFile(package) as zf:
        names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith("/metadata.json")]
        if len(names) != 1:
            raise ValueError(f"{package}: expected one top-level metadata.json, got {names}")
        data: dict[str, Any] = json.loads(zf.read(names[0]).decode("utf-8"))
        return data


def extract_package(package: Path, dest: Path) -> Path:
    """Unzips an .argosmodel into ``dest``; returns the package folder."""
    with zipfile.ZipFile(package) as zf:
        tops = {n.split("/", 1)[0] for n in zf.namelist()}
        if len(tops) != 1:
            raise ValueError(f"{package}: expected one top-level folder, got {sorted(tops)}")
        zf.extractall(dest)
    return Path(dest) / tops.pop()


class RawTranslator:
    """An extracted package driven by ctranslate2 + sentencepiece the way
    argostranslate 1.12 drives it (beam 4, length_penalty 0.2,
    replace_unknowns, max_batch_size 32 tokens), without sentence splitting."""

    def __init__(self, package_dir: Path, **translator_kwargs: Any) -> None:
        import ctranslate2
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=str(package_dir / "sentencepiece.model"))
        self.translator = ctranslate2.Translator(
            str(package_dir / "model"), device="cpu", **translator_kwargs
        )

    def translate_pieces(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        results = self.translator.translate_batch(
            [list(s) for s in sentences],
            replace_unknowns=True,
            max_batch_size=32,
            batch_type="tokens",
            beam_size=4,
            num_hypotheses=1,
            length_penalty=0.2,
            return_scores=True,
        )
        return [r.hypotheses[0] for r in results]

    def translate(self, sentences: Sequence[str]) -> str:
        """Translates the sentences of one paragraph and joins them like argos."""
        pieces = self.translate_pieces([self.sp.encode(s, out_type=str) for s in sentences])
        text = self.sp.decode_pieces([p for hyp in pieces for p in hyp])
        text = text.replace(WORD, " ").replace("_", " ")
        return text[1:] if text.startswith(" ") else text


def expected_pieces(source: Sequence[str], dictionary: Mapping[str, str]) -> list[str]:
    """The specification: each piece through the dictionary, others unchanged."""
    return [dictionary.get(p, p) for p in source]


# ----------------------------------------------------------------------------
# Loopback package index
# ----------------------------------------------------------------------------


@contextlib.contextmanager
def serve_index(packages: Iterable[Path]) -> Iterator[str]:
    """Serves an Argos package index on 127.0.0.1; yields its base URL (ends in /).

    ``<base>index.json`` is a list of the packages' metadata with ``links``
    pointing at ``<base><file name>`` on the same server, which is what
    ``argostranslate.package.update_package_index`` / ``get_available_packages`` /
    ``AvailablePackage.download`` read.
    """
    files = {Path(p).name: Path(p) for p in packages}
    base_holder: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            name = self.path.split("?", 1)[0].lstrip("/")
            if name == "index.json":
                base = base_holder[0]
                index = [
                    {**read_metadata(path), "links": [base + file_name]}
                    for file_name, path in files.items()
                ]
                body = json.dumps(index, ensure_ascii=False, indent=2).encode("utf-8")
                ctype = "application/json"
            elif name in files:
                body = files[name].read_bytes()
                ctype = "application/zip"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    base_holder.append(f"http://127.0.0.1:{port}/")
    thread = threading.Thread(target=server.serve_forever, name="argos-index", daemon=True)
    thread.start()
    try:
        yield base_holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
