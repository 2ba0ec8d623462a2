"""Thin click commands over the app; no logic of their own."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import __version__, logs
from .config import Config, config_path, load
from .errors import ConfigError, SyncdError
from .exits import Exit

if TYPE_CHECKING:
    from .app import App


class _Failed(click.ClickException):
    """One line on stderr and exit code ``ERROR`` (``syncd.exits``)."""

    exit_code = int(Exit.ERROR)

    @staticmethod
    def of(exc: SyncdError, prefix: str = "") -> _Failed:
        """A config (or glossary) that cannot be used is ``USAGE``, the rest ``ERROR``."""
        cls = _Unusable if isinstance(exc, ConfigError) else _Failed
        return cls(f"{prefix}{exc}")


class _Unusable(_Failed):
    """One line on stderr and exit code ``USAGE``: a config, glossary or argument that
    cannot be used."""

    exit_code = int(Exit.USAGE)


def _load(ctx: click.Context) -> Config:
    from .kinds import TABLE

    try:
        cfg = load(ctx.obj["config"], kinds=TABLE)
    except ConfigError as exc:
        raise _Failed.of(exc, "config: ") from exc
    logs.setup(ctx.obj.get("log_level") or cfg.log.level, cfg.log.format)
    return cfg


def _app(
    ctx: click.Context,
    cfg: Config,
    *,
    scratch: bool = False,
    translate: bool = False,
    owner: str | None = None,
    create: bool = False,
) -> App:
    """The command's parts from ``make_app``; ``scratch``: records nothing (an in-memory
    store); ``translate``: build the translator now, so a bad glossary stops the
    command before any work (other commands never build one); ``owner``: the command
    runs passes, so it owns the state (one process per state) and may create it;
    ``create``: may create the store without owning it (``editors add`` while the
    daemon runs)."""
    from .app import make_app

    try:
        app = make_app(cfg, scratch=scratch, owner=owner, create=create or owner is not None)
    except SyncdError as exc:
        raise _Failed.of(exc) from exc
    if translate:
        try:
            _ = app.translator
        except SyncdError as exc:
            app.close()
            raise _Failed.of(exc) from exc
    return app


class _Group(click.Group):
    """Every expected failure (``SyncdError``) of any command is one line on stderr and
    an exit code from ``syncd.exits`` (2 for config, 1 otherwise), never a traceback:
    a locked or damaged store, a refused lock, a bad model file. Bugs still show
    their traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SyncdError as exc:
            raise _Failed.of(exc) from exc


@click.group(cls=_Group)
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
    app = _app(ctx, cfg, translate=True, owner="run")
    try:
        code = Daemon(app).run_forever()
    finally:
        app.close()
    sys.exit(code)


@main.command(name="sync")
@click.pass_context
def sync_cmd(ctx: click.Context) -> None:
    """One pass over all sources, then exit: 0 when everything worked, 3 when a source
    failed, 4 when a delivery failed or is parked, a target is refused or unreachable
    or models are missing, 5 for both (docs/operations.md)."""
    from . import alerts, exits, health, sync
    from .status import missing_for, verdict

    cfg = _load(ctx)
    app = _app(ctx, cfg, translate=True, owner="sync")
    try:
        results = [sync.poll(app, s.id) for _c, s in cfg.sources() if s.enabled]
        delivered = sync.deliver(app)
        missing = missing_for(cfg, app.translator)
        problems = verdict(cfg, app.store, app.clock(), missing).of(health.DELIVERIES)
        alerts.check(app)  # run from cron, syncd sync tells the operator too
    finally:
        app.close()
    for r in results:
        click.echo(f"{'ok   ' if r.ok else 'FAIL '} {r.source_id}: {r.message}")
    click.echo(
        f"drafts: {delivered.created} created, {delivered.updated} updated, {delivered.adopted} adopted, "
        f"{delivered.handed_off} left to editors, {delivered.failed} failed, {delivered.parked} parked, "
        f"{delivered.waiting_for_models} waiting for models, {delivered.held} held in the desk"
    )
    for line in delivered.errors[:20]:
        click.echo(f"  error: {line}")
    for p in problems:
        click.echo(f"  needs a person: {p.message}")
    code = exits.of_pass(
        any(not r.ok for r in results),
        bool(delivered.failed or delivered.parked or problems),
    )
    sys.exit(int(code))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Per source: last poll, result, next poll, failures, alerts; per target: reachable
    since when, last error, drafts by state, oldest waiting, next attempt; failed and
    parked deliveries with their errors; models. Exits 6 when a person is needed
    (the verdict, also in --json), so cron and monitors can use it."""
    from .status import collect, render

    app = _app(ctx, _load(ctx))
    try:
        report = collect(app.config, app.store, app.clock())
    finally:
        app.close()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(render(report))
    sys.exit(int(Exit.OK if report["verdict"]["ok"] else Exit.ATTENTION))


@main.command()
@click.option(
    "--live",
    is_flag=True,
    help="Also contact every target with its credentials and fetch every source once.",
)
@click.pass_context
def check(ctx: click.Context, live: bool) -> None:
    """Check the config, the store's driver and file, models for every configured
    route, secrets and writable paths; changes nothing. --live also contacts each
    target (WordPress: user, role, capabilities, plugin) and fetches each source,
    printing every check ok or FAIL. Exits 6 when something fails."""
    from .check import run_checks, run_live

    app = _app(ctx, _load(ctx), scratch=True)  # check records nothing
    try:
        problems, notes = run_checks(app)
        checks = run_live(app) if live else []
    finally:
        app.close()
    for line in notes:
        click.echo(f"note: {line}")
    for line in problems:
        click.echo(f"FAIL {line}")
    for what, problem in checks:
        click.echo(f"ok   {what}" if problem is None else f"FAIL {what}: {problem}")
    if problems or any(p is not None for _w, p in checks):
        sys.exit(int(Exit.ATTENTION))
    click.echo(f"ok: {config_path(ctx.obj['config'])} is usable")


@main.command()
@click.option("--item", "item_key", default=None, help="Only this item key.")
@click.option(
    "--now",
    "now",
    is_flag=True,
    help="Also make deliveries waiting in backoff due now, and try refused targets again.",
)
@click.pass_context
def retry(ctx: click.Context, item_key: str | None, now: bool) -> None:
    """Re-queue parked deliveries (all, or one item's) for the next pass; with --now
    also those waiting in backoff (after the target is back), and say how many."""
    from . import decide

    app = _app(ctx, _load(ctx))
    try:
        item_id = None
        if item_key is not None:
            rows = [i for _d, i in app.store.deliveries() if i.key == item_key]
            if not rows:
                raise _Unusable(f"no item with key {item_key!r}")
            item_id = rows[0].id
        at = app.clock()
        n = app.store.retry_parked(at, item_id)
        waiting, targets = 0, []
        if now:
            waiting = app.store.retry_waiting(at, item_id)
            for city in app.config.cities:
                change = decide.target_retried(app.store.target_health(city.id))
                if change is not None:
                    app.store.apply_target_health(change, at)
                    targets.append(city.id)
    finally:
        app.close()
    line = f"re-queued {n} parked deliveries"
    if now:
        line += f" and {waiting} waiting in backoff"
        if targets:
            line += f"; refused targets tried again: {', '.join(targets)}"
    click.echo(line)


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def backup(ctx: click.Context, path: Path) -> None:
    """Copy the state (SQLite) to PATH while syncd runs, with SQLite's online backup
    API; restore by stopping syncd and putting the copy in the store's place
    (docs/operations.md). PostgreSQL: use pg_dump."""
    app = _app(ctx, _load(ctx))
    try:
        size = app.store.backup(path)
    finally:
        app.close()
    click.echo(f"backed up {app.store.display_url} to {path} ({size / 1e6:.1f} MB)")


@main.command()
@click.option("--from", "from_code", required=True, help="Source language (de, zh, en).")
@click.option("--to", "to_code", required=True, help="Target language (de, zh, zh-Hant, en).")
@click.argument("text")
@click.pass_context
def translate(ctx: click.Context, from_code: str, to_code: str, text: str) -> None:
    """Translate TEXT (plain or HTML) with the installed models and print it."""
    from .models import Translation
    from .translate import TranslationRequest

    # scratch: a CLI translation is not remembered
    app = _app(ctx, _load(ctx), scratch=True, translate=True)
    try:
        request = TranslationRequest("cli", from_code, to_code, "", "", text)
        (result,) = app.translator.translate([request])
    finally:
        app.close()
    if not isinstance(result, Translation):
        raise _Failed(str(result))
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
    from .translate import packages as m

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
        raise _Failed.of(exc) from exc
    for p in installed:
        click.echo(
            f"installed {p.from_code}->{p.to_code} {p.name} {p.version} ({p.size_bytes / 1e6:.1f} MB)"
        )


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def models_list(ctx: click.Context, as_json: bool) -> None:
    """Show installed models: pair, version, size."""
    from .translate import packages as m

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
    from .translate import packages as m

    cfg = _load(ctx)
    try:
        removed = m.remove(cfg.resolve_path(cfg.models.dir), from_code, to_code)
    except SyncdError as exc:
        raise _Failed.of(exc) from exc
    for p in removed:
        click.echo(f"removed {p.from_code}->{p.to_code} {p.name} {p.version}")


@main.group()
def sources() -> None:
    """Inspect configured sources."""


@sources.command("test")
@click.argument("source_id")
@click.pass_context
def sources_test(ctx: click.Context, source_id: str) -> None:
    """Fetch SOURCE_ID once, record nothing, print what would be extracted: per item
    its date and where it came from, which other source already holds it, and what
    first activation would skip."""
    from .preview import preview
    from .sources import SourceState

    cfg = _load(ctx)
    if source_id not in {s.id for _c, s in cfg.sources()}:
        raise _Unusable(
            f"no source {source_id!r}; known: {', '.join(s.id for _c, s in cfg.sources())}"
        )
    # scratch: nothing is recorded in the real store; no translator is ever built,
    # so this works without models
    app = _app(ctx, cfg, scratch=True)
    try:
        result = app.source(source_id).fetch(SourceState())
        now = app.clock()
    except SyncdError as exc:
        raise _Failed.of(exc, f"{source_id}: ") from exc
    finally:
        app.close()
    try:  # the real state, read only, when there is one
        state: App | None = _app(ctx, cfg)
    except click.ClickException:
        state = None
    try:
        seen = preview(cfg, state.store if state else None, source_id, result, now)
    finally:
        if state is not None:
            state.close()
    click.echo(f"{len(result.items)} items")
    for it in result.items:
        date = it.published.isoformat() if it.published else "(no date)"
        if it.published:
            date += (
                f" (from {it.date_source or 'the source'}{', date only' if it.date_only else ''})"
            )
        flags = f" flags={','.join(it.flags)}" if it.flags else ""
        echo = " ECHO" if it.echo_marker else ""
        click.echo(
            f"- {it.key}\n  title: {it.title}\n  date: {date}\n"
            f"  body: {len(it.body_html)} chars  images: {len(it.images)}{flags}{echo}"
        )
        if it.categories:
            click.echo(f"  categories: {', '.join(it.categories)}")
        if it.key in seen.held_by:
            click.echo(f"  held by: {seen.held_by[it.key]} (this one would enrich it)")
        if it.key in seen.first_run_skips:
            click.echo(f"  first activation skips it: {seen.first_run_skips[it.key]}")
    for w in result.warnings:
        click.echo(f"warning: {w}")
    for e in result.entry_errors:
        click.echo(f"dropped: {e}")


@main.group()
def editors() -> None:
    """Manage the editors who sign in to the desk (names, cities, languages)."""


def _read_password(password_stdin: bool, confirm: bool = True) -> str:
    from .passwords import problem

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    why = problem(password)
    if why:
        raise click.ClickException(why)
    return password


@editors.command("add")
@click.argument("name")
@click.option("--city", "city_id", required=True, help="The city whose drafts the editor reviews.")
@click.option(
    "--language",
    type=click.Choice(["de", "zh", "en"]),
    required=True,
    help="The desk's language for this editor (switchable in the desk).",
)
@click.option("--email", default=None, help="Address for e-mail digests (optional).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.pass_context
def editors_add(
    ctx: click.Context,
    name: str,
    city_id: str,
    language: str,
    email: str | None,
    password_stdin: bool,
) -> None:
    """Add editor NAME of a city; prompts for the password unless --password-stdin."""
    import re

    from .passwords import hash_password

    cfg = _load(ctx)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}", name):
        raise click.ClickException(
            "a name is 1 to 64 letters, digits, '.', '_', '@' or '-' (no spaces)"
        )
    if city_id not in {c.id for c in cfg.cities}:
        raise click.ClickException(
            f"no city {city_id!r}; known: {', '.join(c.id for c in cfg.cities)}"
        )
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise click.ClickException(f"not an e-mail address: {email!r}")
    password = _read_password(password_stdin)
    app = _app(ctx, cfg, create=True)
    try:
        added = app.store.add_editor(
            name, city_id, language, email, hash_password(password), app.clock()
        )
    finally:
        app.close()
    if not added:
        raise click.ClickException(f"an editor named {name!r} exists already")
    click.echo(f"added editor {name} ({city_id}, {language})")


@editors.command("list")
@click.pass_context
def editors_list(ctx: click.Context) -> None:
    """List the editors: name, city, language, e-mail, since when."""
    app = _app(ctx, _load(ctx))
    try:
        rows = app.store.editors()
    finally:
        app.close()
    if not rows:
        click.echo("no editors; add one with `syncd editors add NAME --city ID --language de`")
    for e in rows:
        click.echo(
            f"{e.name}\t{e.city_id}\t{e.language}\t{e.email or '-'}\tsince {e.created_at:%Y-%m-%d}"
        )


@editors.command("remove")
@click.argument("name")
@click.pass_context
def editors_remove(ctx: click.Context, name: str) -> None:
    """Remove editor NAME; their sessions end at once."""
    app = _app(ctx, _load(ctx))
    try:
        removed = app.store.remove_editor(name, app.clock())
    finally:
        app.close()
    if not removed:
        raise click.ClickException(f"no editor named {name!r}")
    click.echo(f"removed editor {name}")


@editors.command("passwd")
@click.argument("name")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.pass_context
def editors_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for editor NAME; their sessions end at once."""
    from .passwords import hash_password

    cfg = _load(ctx)
    password = _read_password(password_stdin)
    app = _app(ctx, cfg)
    try:
        changed = app.store.set_password(name, hash_password(password), app.clock())
    finally:
        app.close()
    if not changed:
        raise click.ClickException(f"no editor named {name!r}")
    click.echo(f"new password set for {name}")


if __name__ == "__main__":  # pragma: no cover
    main()
