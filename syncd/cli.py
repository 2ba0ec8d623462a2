"""Thin click commands over the app; no logic of their own."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from . import __version__, logs
from .config import Config, config_path, load
from .errors import ConfigError, SyncdError


def _load(ctx: click.Context) -> Config:
    try:
        cfg = load(ctx.obj["config"])
    except ConfigError as exc:
        raise click.ClickException(f"config: {exc}") from exc
    logs.setup(ctx.obj.get("log_level") or cfg.log.level, cfg.log.format)
    return cfg


def _app(ctx: click.Context, cfg: Config) -> Any:
    from .app import make_app

    try:
        return make_app(cfg)
    except SyncdError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
@click.version_option(__version__, prog_name="syncd")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $SYNCD_CONFIG, else config/syncd.toml).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="Override log.level.",
)
@click.pass_context
def main(ctx: click.Context, config: str | None, log_level: str | None) -> None:
    """syncd: keeps partner cities' news platforms in step across languages.

    Polls each city's sources, translates new and changed items offline and leaves
    them as drafts on the partner city's platform for editors to review.
    """
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    ctx.obj["log_level"] = log_level


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: poll every source on its schedule until SIGTERM/SIGINT.

    The first signal finishes the current item and exits 0; a second stops at once.
    """
    from .daemon import Daemon

    cfg = _load(ctx)
    app = _app(ctx, cfg)
    try:
        code = Daemon(app).run_forever()
    finally:
        app.close()
    sys.exit(code)


@main.command(name="sync")
@click.pass_context
def sync_cmd(ctx: click.Context) -> None:
    """One pass over all sources, then exit (0 when every source succeeded)."""
    from . import sync

    cfg = _load(ctx)
    app = _app(ctx, cfg)
    failed = 0
    try:
        results = [sync.poll(app, s.id) for _c, s in cfg.sources() if s.enabled]
        delivered = sync.deliver(app)
    finally:
        app.close()
    for r in results:
        failed += not r.ok
        click.echo(f"{'ok   ' if r.ok else 'FAIL '} {r.source_id}: {r.message}")
    click.echo(
        f"drafts: {delivered.created} created, {delivered.updated} updated, {delivered.adopted} adopted, "
        f"{delivered.handed_off} left to editors, {delivered.failed} failed, {delivered.parked} parked, "
        f"{delivered.waiting_for_models} waiting for models"
    )
    for line in delivered.errors[:20]:
        click.echo(f"  error: {line}")
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Per source: last poll, result, next poll, failures, alerts; per target: drafts
    by state; parked items with their reasons."""
    from .status import collect, render

    cfg = _load(ctx)
    from .store import Store

    store = Store(cfg.storage_url())
    try:
        report = collect(cfg, store)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(render(report))


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check the config, models for every configured route and writable paths."""
    from .check import run_checks

    cfg = _load(ctx)
    notes: list[str] = []
    problems = run_checks(cfg, notes)
    for line in notes:
        click.echo(f"note {line}")
    for line in problems:
        click.echo(f"FAIL {line}")
    if problems:
        sys.exit(1)
    click.echo(f"ok: {config_path(ctx.obj['config'])} is usable")


@main.command()
@click.option("--item", "item_key", default=None, help="Only this item key.")
@click.pass_context
def retry(ctx: click.Context, item_key: str | None) -> None:
    """Re-queue parked deliveries (all, or one item's) for the next pass."""
    from .store import Store

    cfg = _load(ctx)
    store = Store(cfg.storage_url())
    try:
        item_id = None
        if item_key is not None:
            rows = [i for _d, i in store.deliveries() if i.key == item_key]
            if not rows:
                raise click.ClickException(f"no item with key {item_key!r}")
            item_id = rows[0].id
        n = store.retry_parked(_now(), item_id)
    finally:
        store.close()
    click.echo(f"re-queued {n} parked deliveries")


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@main.command()
@click.option("--from", "from_code", required=True, help="Source language (de, zh, en).")
@click.option("--to", "to_code", required=True, help="Target language (de, zh, zh-Hant, en).")
@click.argument("text")
@click.pass_context
def translate(ctx: click.Context, from_code: str, to_code: str, text: str) -> None:
    """Translate TEXT (plain or HTML) with the installed models and print it."""
    from .app import default_translator
    from .models import Translation
    from .store import Store
    from .translate import TranslationRequest

    cfg = _load(ctx)
    store = Store("sqlite://")  # throwaway: a CLI translation is not remembered
    engine = default_translator(cfg, store)
    try:
        (result,) = engine.translate([TranslationRequest("cli", from_code, to_code, "", "", text)])
    finally:
        engine.close()
        store.close()
    if not isinstance(result, Translation):
        raise click.ClickException(str(result))
    click.echo(result.body_html)


@main.group()
def models() -> None:
    """Install, list and remove Argos translation models."""


@models.command("install")
@click.argument("pair", nargs=-1)
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="A .argosmodel file or a folder of them.",
)
@click.option("--url", default=None, help="Download a .argosmodel from this URL.")
@click.option(
    "--index-url", default=None, help="Argos package index (a mirror); default models.index_url."
)
@click.pass_context
def models_install(
    ctx: click.Context,
    pair: tuple[str, ...],
    file: Path | None,
    url: str | None,
    index_url: str | None,
) -> None:
    """Install models: by language pair from the index (e.g. `de zh`, pivot legs
    included), from --url, or from --file."""
    from .translate import models as m

    cfg = _load(ctx)
    target = cfg.resolve_path(cfg.models.dir)
    chosen = sum(x is not None for x in (file, url)) + (1 if pair else 0)
    if chosen != 1:
        raise click.UsageError("give exactly one of: a pair (FROM TO), --file, --url")
    try:
        if file is not None:
            installed = m.install_file(target, file)
        elif url is not None:
            installed = m.install_url(target, url)
        else:
            if len(pair) != 2:
                raise click.UsageError(
                    "a pair is two language codes, e.g. `syncd models install de zh`"
                )
            installed = m.install_pair(target, index_url or cfg.models.index_url, pair[0], pair[1])
    except SyncdError as exc:
        raise click.ClickException(str(exc)) from exc
    for p in installed:
        click.echo(
            f"installed {p.from_code}->{p.to_code} {p.name} {p.version} ({p.size_bytes / 1e6:.1f} MB)"
        )


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def models_list(ctx: click.Context, as_json: bool) -> None:
    """Show installed models: pair, version, size."""
    from .translate import models as m

    cfg = _load(ctx)
    pkgs = m.installed(cfg.resolve_path(cfg.models.dir))
    if as_json:
        click.echo(json.dumps([{**asdict(p), "path": str(p.path)} for p in pkgs], indent=2))
        return
    if not pkgs:
        click.echo("no models installed; e.g. `syncd models install de zh`")
    for p in pkgs:
        click.echo(
            f"{p.from_code}->{p.to_code}\t{p.version}\t{p.size_bytes / 1e6:.1f} MB\t{p.name}"
        )


@models.command("remove")
@click.argument("from_code")
@click.argument("to_code")
@click.pass_context
def models_remove(ctx: click.Context, from_code: str, to_code: str) -> None:
    """Remove the installed model for FROM_CODE -> TO_CODE."""
    from .translate import models as m

    cfg = _load(ctx)
    try:
        removed = m.remove(cfg.resolve_path(cfg.models.dir), from_code, to_code)
    except SyncdError as exc:
        raise click.ClickException(str(exc)) from exc
    for p in removed:
        click.echo(f"removed {p.from_code}->{p.to_code} {p.name} {p.version}")


@main.group()
def sources() -> None:
    """Inspect configured sources."""


@sources.command("test")
@click.argument("source_id")
@click.pass_context
def sources_test(ctx: click.Context, source_id: str) -> None:
    """Fetch SOURCE_ID once, record nothing, print what would be extracted."""
    from .app import App
    from .sources import SourceState
    from .sources.http import PoliteClient
    from .store import Store

    cfg = _load(ctx)
    if source_id not in {s.id for _c, s in cfg.sources()}:
        raise click.ClickException(
            f"no source {source_id!r}; known: {', '.join(s.id for _c, s in cfg.sources())}"
        )
    store = Store("sqlite://")  # nothing is recorded in the real store
    http = PoliteClient(cfg.http)
    # sources need no translator: none is built, so this works without models
    no_translator: Any = None
    app = App(cfg, store, no_translator, http, None, clock=_now, rand=lambda: 0.5)
    try:
        result = app.source(source_id).fetch(SourceState())
    except SyncdError as exc:
        raise click.ClickException(f"{source_id}: {exc}") from exc
    finally:
        http.close()
        store.close()
    click.echo(f"{len(result.items)} items")
    for it in result.items:
        date = it.published.isoformat() if it.published else "(no date)"
        flags = f" flags={','.join(it.flags)}" if it.flags else ""
        echo = " ECHO" if it.echo_marker else ""
        click.echo(
            f"- {it.key}\n  title: {it.title}\n  date: {date}  body: {len(it.body_html)} chars  images: {len(it.images)}{flags}{echo}"
        )
    for w in result.warnings:
        click.echo(f"warning: {w}")
    for e in result.entry_errors:
        click.echo(f"dropped: {e}")


if __name__ == "__main__":  # pragma: no cover
    main()
