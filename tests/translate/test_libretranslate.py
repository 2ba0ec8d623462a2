"""The LibreTranslate engine against a loopback server implementing the documented API.

The fake server (tests/support/libretranslate.py) decodes with the same generated
packages the local engine loads, so the two engines see the same sentence outputs:
their translations, and the drafts made of them, must be the same. Then its answers:
each error, a timeout, a wrong key, a pair it lacks, and the memory that spares it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from syncd.config import Duration, EngineConfig, ModelsConfig, Secret
from syncd.errors import ModelMissing, TranslateError
from syncd.models import Translation
from syncd.store import Store
from syncd.translate import TranslationRequest
from syncd.translate import glossary as gl
from syncd.translate import packages as pkgs
from syncd.translate.engine import ArgosEngine
from syncd.translate.libretranslate import LibreTranslateEngine
from tests.support.feeds import Entry
from tests.support.libretranslate import FakeLibreTranslate, serve_libretranslate
from tests.support.pipeline import DUEREN_FEED, JINHUA_FEED, Pipeline, two_cities

GLOSSARY = gl.load(Path(__file__).resolve().parents[2] / "config" / "glossary.toml")
KEY_ENV = "SYNCD_TEST_LT_KEY"

REQUESTS = [
    TranslationRequest(
        "1", "de", "zh", "Hallo Welt.", "Willkommen in Düren!",
        '<p>Düren hat 90000 Einwohner. <a href="https://www.dueren.de/">Heute</a> '
        "besucht der Bürgermeister von Düren die Partnerstadt Jinhua.</p>",
    ),
    TranslationRequest("2", "zh", "de", "你好世界！该市长访问金华。", "", "<p>迪伦有 90000居民。</p>"),
    TranslationRequest("3", "de", "zh-Hant", "Hallo Welt.", "", "<ul><li>Frank besucht Jinhua.</li></ul>"),
    TranslationRequest("4", "de", "en", "Das neue Museum kostet 5 €.", "", ""),
]  # fmt: skip


@pytest.fixture
def packages(installed_models: Path) -> dict[tuple[str, str], Path]:
    return {(p.from_code, p.to_code): p.path for p in pkgs.installed(installed_models)}


@pytest.fixture
def lt(packages: dict[tuple[str, str], Path]) -> Iterator[FakeLibreTranslate]:
    with serve_libretranslate(packages) as fake:
        yield fake


def engine(url: str, **kw: object) -> LibreTranslateEngine:
    config = EngineConfig(kind="libretranslate", url=url, **kw)  # type: ignore[arg-type]
    return LibreTranslateEngine(config, glossary=GLOSSARY)


def test_the_same_translations_as_the_local_engine(
    installed_models: Path, lt: FakeLibreTranslate
) -> None:
    local = ArgosEngine(installed_models, ModelsConfig(beam_size=4), glossary=GLOSSARY)
    remote = engine(lt.url)
    try:
        want, got = local.translate(REQUESTS), remote.translate(REQUESTS)
    finally:
        remote.close()
    for w, g in zip(want, got, strict=True):
        assert isinstance(w, Translation) and isinstance(g, Translation), (w, g)
        assert (g.language, g.title, g.summary, g.body_html, g.pivot, g.flags) == (
            w.language, w.title, w.summary, w.body_html, w.pivot, w.flags,
        )  # fmt: skip
    assert got[0].packages == (
        f"libretranslate-de_en@127.0.0.1:{lt.server.port}",
        f"libretranslate-en_zh@127.0.0.1:{lt.server.port}",
    )
    # one request per leg and pair: the q lists are the batches (de→en for 1, 3 and 4)
    assert [(s, t) for s, t, _q in lt.batches] == [
        ("de", "en"), ("zh", "en"), ("en", "zh"), ("en", "de"),
    ]  # fmt: skip


def test_newer_servers_name_chinese_zh_hans(packages: dict[tuple[str, str], Path]) -> None:
    with serve_libretranslate(packages, chinese="zh-Hans") as fake:
        e = engine(fake.url)
        try:
            (t,) = e.translate(REQUESTS[:1])
            assert isinstance(t, Translation) and t.title == "你好世界。"
            assert ("en", "zh-Hans") in [(s, d) for s, d, _q in fake.batches]
            assert e.missing("zh", "de") == []
        finally:
            e.close()


def test_the_drafts_are_the_same_as_with_the_local_engine(
    tmp_path: Path, installed_models: Path, lt: FakeLibreTranslate
) -> None:
    entries = {
        DUEREN_FEED: [Entry("n1", "Hallo Welt.", "<p>Düren hat 90000 Einwohner.</p>", "https://www.dueren.example/1")],
        JINHUA_FEED: [Entry("a1", "你好世界。", "<p>该市长访问金华。</p>", "https://www.jinhua.example/1",
                            pub="Wed, 25 Nov 2026 10:00:00 +0800")],
    }  # fmt: skip
    drafts = {}
    for name in ("local", "remote"):
        root = tmp_path / name
        translator = (
            ArgosEngine(installed_models, ModelsConfig(beam_size=4))
            if name == "local"
            else engine(lt.url)
        )
        p = Pipeline(root, two_cities(root), translator=translator)  # type: ignore[arg-type]
        try:
            p.feeds.entries.update(entries)
            assert p.sync().created == 2
            drafts[name] = {
                city: [
                    (json.loads(f.read_text("utf-8")), f.with_suffix(".html").read_text("utf-8"))
                    for f in p.outbox(city)
                ]
                for city in ("jinhua", "dueren")
            }
        finally:
            p.close()
            translator.close()
    for city in ("jinhua", "dueren"):
        ((local, local_html),) = drafts["local"][city]
        ((remote, remote_html),) = drafts["remote"][city]
        # what made it differs (and so the sidecar's hash), not what editors get
        differ = {k for k in local if local[k] != remote[k]}
        assert differ == {"packages", "sidecar_sha256"}, {k: (local[k], remote[k]) for k in differ}
        assert local["title"] and local_html == remote_html


@pytest.mark.parametrize(
    ("status", "error", "says"),
    [
        (400, "Invalid request: q too long", "refused the request (400): Invalid request"),
        (429, "Slowdown: 30 per 1 minute", "asks to slow down (429): Slowdown"),
        (500, "Cannot translate text: boom", "failed (500): Cannot translate"),
    ],
)
def test_error_answers_fail_the_leg_and_leave_nothing_remembered(
    lt: FakeLibreTranslate, store_url: str, status: int, error: str, says: str
) -> None:
    store = Store(store_url)
    e = LibreTranslateEngine(EngineConfig("libretranslate", lt.url), memory=store)
    try:
        lt.fail_next = [(status, error)]  # the first request: the de→en leg
        failed, other = e.translate(REQUESTS[:2])
        assert isinstance(failed, TranslateError) and says in str(failed), failed
        assert lt.url in str(failed)
        assert isinstance(other, Translation), "a failing leg fails only the requests on it"
        assert store.recall("libretranslate-de_en@" + lt.url.split("//")[1], ["Hallo Welt."]) == {}
        # the next attempt (the delivery's retry) goes through, and is remembered
        assert all(isinstance(r, Translation) for r in e.translate(REQUESTS[:2]))
        sent = len(lt.batches)
        assert all(isinstance(r, Translation) for r in e.translate(REQUESTS[:2]))
        assert len(lt.batches) == sent, "the memory answered; the server was not asked"
    finally:
        e.close()
        store.close()


def test_a_wrong_or_missing_api_key_is_refused(
    packages: dict[tuple[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_libretranslate(packages, api_key="right") as fake:
        monkeypatch.setenv(KEY_ENV, "wrong")
        for e in (engine(fake.url), engine(fake.url, api_key=Secret(env=KEY_ENV))):
            try:
                (r,) = e.translate(REQUESTS[:1])
                assert isinstance(r, TranslateError) and "refused the API key (403)" in str(r)
            finally:
                e.close()
        monkeypatch.setenv(KEY_ENV, "right")
        e = engine(fake.url, api_key=Secret(env=KEY_ENV))
        try:
            assert isinstance(e.translate(REQUESTS[:1])[0], Translation)
            assert json.loads(fake.server.hits("/translate")[-1].body)["api_key"] == "right"
        finally:
            e.close()


def test_a_slow_server_times_out(lt: FakeLibreTranslate) -> None:
    lt.delay = 1.5
    e = engine(lt.url, timeout=Duration(seconds=0.5))
    try:
        (r,) = e.translate(REQUESTS[3:])
        assert isinstance(r, TranslateError) and "/translate timed out" in str(r)
    finally:
        e.close()


def test_an_unreachable_server_and_a_missing_pair(
    packages: dict[tuple[str, str], Path],
) -> None:
    with serve_libretranslate({k: v for k, v in packages.items() if k != ("en", "zh")}) as fake:
        e = engine(fake.url)
        try:
            (r,) = e.translate(REQUESTS[:1])
            assert isinstance(r, ModelMissing) and fake.url in str(r)
            assert "offers no de → zh" in e.missing("de", "zh")[0]
            assert e.missing("zh", "de") == []
        finally:
            e.close()
        gone = fake.url
    e = engine(gone, timeout=Duration(seconds=2))
    try:
        (r,) = e.translate(REQUESTS[:1])
        assert isinstance(r, TranslateError) and "/languages unreachable" in str(r)
        assert "unreachable" in e.missing("de", "zh")[0]
    finally:
        e.close()


def test_a_failing_server_is_retried_like_a_target(tmp_path: Path, lt: FakeLibreTranslate) -> None:
    """A delivery whose translation failed waits with backoff and goes through later."""
    translator = engine(lt.url)
    p = Pipeline(tmp_path, two_cities(tmp_path, jinhua_sources=()), translator=translator)  # type: ignore[arg-type]
    try:
        p.feeds.entries[DUEREN_FEED] = [Entry("n1", "Hallo Welt.", "<p>Hallo.</p>", "https://x/1")]
        lt.fail_next = [(500, "Cannot translate text: the GPU is gone")]
        r = p.sync()
        assert (r.created, r.failed) == (0, 1) and "failed (500)" in r.errors[0]
        d = p.delivery("n1", "jinhua")
        assert d.attempts == 1 and d.next_attempt_at is not None
        assert p.sync().created == 0, "not before its retry time"
        p.clock.advance(seconds=(d.next_attempt_at - p.clock()).total_seconds() + 1)
        assert p.sync().created == 1
    finally:
        p.close()
        translator.close()


def test_config_names_the_server(tmp_path: Path) -> None:
    from syncd.config import parse
    from syncd.errors import ConfigError
    from syncd.kinds import TABLE

    base = two_cities(tmp_path)
    assert base.translate.engine.kind == "local"
    data = {
        "translate": {"engine": {"kind": "libretranslate", "url": "http://lt:5000",
                                 "api_key": {"env": KEY_ENV}, "timeout": "30s"}},
        "cities": [{"id": "a", "name": "A", "language": "de", "timezone": "UTC",
                    "target": {"kind": "outbox", "path": "d"}}],
    }  # fmt: skip
    c = parse(data, tmp_path / "x.toml", kinds=TABLE)
    assert c.translate.engine == EngineConfig(
        "libretranslate", "http://lt:5000", Secret(env=KEY_ENV, where=c.translate.engine.api_key.where),  # type: ignore[union-attr]
        Duration(seconds=30),
    )  # fmt: skip
    data["translate"] = {"engine": {"kind": "libretranslate"}}
    with pytest.raises(ConfigError, match=r"translate\.engine\.url: expected the server's"):
        parse(data, tmp_path / "x.toml", kinds=TABLE)
    assert timedelta(seconds=120) == EngineConfig().timeout


def test_every_engine_kind_is_made_and_checked_from_one_table() -> None:
    import typing

    from syncd.app import ENGINES
    from syncd.config import ENGINE_NEEDS_URL

    kinds = set(typing.get_args(typing.get_type_hints(EngineConfig)["kind"]))
    assert kinds == set(ENGINES) == set(ENGINE_NEEDS_URL) == {"local", "libretranslate"}
