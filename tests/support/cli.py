"""Driving syncd through its real CLI in tests: run a command, install the generated
Argos packages, read the outbox drafts, serve two feeds. Contains no business logic."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from syncd.cli import main
from tests.support.feeds import Entry, rss
from tests.support.loopback import LoopbackServer, Reply

DE_ITEM = Entry("news-1", "Hallo Welt.", "<p>Hallo Welt.</p>", "https://www.dueren.de/news/1")
ZH_ITEM = Entry("art-1", "你好世界。", "<p>你好世界。</p>", "https://www.jinhua.gov.cn/art/1.html",
                pub="Wed, 25 Nov 2026 10:00:00 +0800")  # fmt: skip


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def install_models(config: Path, package_dir: Path) -> None:
    r = cli(config, "models", "install", "--file", str(package_dir))
    assert r.exit_code == 0, r.output
    assert sum(line.startswith("installed ") for line in r.output.splitlines()) == 4


def drafts(config: Path, city: str) -> dict[str, dict[str, object]]:
    """The outbox drafts of ``city`` by file stem: sidecar fields plus ``_html``."""
    folder = config.parent / "drafts" / city
    if not folder.exists():
        return {}
    out = {}
    for side in sorted(folder.glob("syncd-*.json")):
        doc = json.loads(side.read_text(encoding="utf-8"))
        doc["_html"] = side.with_suffix(".html").read_text(encoding="utf-8")
        out[side.stem] = doc
    return out


def serve_feeds(
    server: LoopbackServer, de: list[Entry], zh: list[Entry]
) -> tuple[list[Entry], list[Entry]]:
    """Routes /de.xml and /zh.xml; the lists are served live, so tests may change them."""
    server.routes["/de.xml"] = lambda req: Reply(
        200, rss(de), {"Content-Type": "application/rss+xml"}
    )
    server.routes["/zh.xml"] = lambda req: Reply(
        200, rss(zh), {"Content-Type": "application/rss+xml"}
    )
    return de, zh
