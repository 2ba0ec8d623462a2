"""A real headless Chromium for the desk's browser tests: Debian's chromium driven by
Playwright for Python, and axe-core from the npm registry, both installed on first use
by scripts/browser/browser-test-setup (never `playwright install`). Contains no
business logic."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SETUP = REPO / "scripts" / "browser" / "browser-test-setup"
ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@dataclass(frozen=True)
class BrowserKit:
    chromium: Path
    axe: Path


def ensure_browser() -> BrowserKit:
    """Install what is missing (the script is a no-op when all is there)."""
    out = subprocess.run(
        [str(SETUP), "install"], capture_output=True, text=True, timeout=1800, check=False
    )
    assert out.returncode == 0, f"{SETUP} failed:\n{out.stderr[-4000:]}"
    env = dict(
        line.removeprefix("export ").split("=", 1)
        for line in out.stdout.splitlines()
        if line.startswith("export ")
    )
    kit = BrowserKit(Path(env["BROWSER_TEST_CHROMIUM"]), Path(env["BROWSER_TEST_AXE"]))
    assert kit.chromium.exists() and kit.axe.exists(), kit
    return kit


def axe_violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    page.evaluate(axe_source)  # through the DevTools protocol: the page's CSP allows no script
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
    )
    return found
