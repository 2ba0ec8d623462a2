"""The desk's pages: sign-in, queue, draft, audit log, language switch.

Carries out requests; the decisions are ``service``'s (and so ``syncd.review``'s).
Every page but sign-in needs a live session (``auth.Sessions``), and every page and
action reads only the signed-in editor's city. Every POST needs the session's CSRF
token and answers with a redirect (post/redirect/get); the outcome travels as a
message key in the query (``?done=approve``), looked up in ``i18n``, never echoed.
Store work and rendering run in Starlette's thread pool (the store is blocking).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ... import logs
from ...draft import build_draft
from ...models import DeliveryState, marker_for
from ...review import Decision, ReviewRefused, approved_translation
from ...store.desk import STATUSES, QueueFilter
from ...store.editors import EditorRow, SessionRow
from ...translate import edit, suggest
from ..context import WebContext
from . import i18n, service, views
from .auth import LOGIN_COOKIE, SESSION_COOKIE, Sessions, Throttle, same

log = logs.get("syncd.web.desk")

HERE = Path(__file__).parent
MAX_FORM = 1024 * 1024  # a whole body rewritten by hand stays far below this
FLAG_KINDS = ("repetition", "untranslated", "length-ratio", "numbers", "placeholder",
              "glossary", "memory")  # fmt: skip


class FormTooLarge(Exception):
    pass


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, at most ``MAX_FORM`` bytes."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM:
        raise FormTooLarge
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise FormTooLarge
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        return {}
    return dict(pairs)


class Desk:
    """The desk's request handlers over one app (see the module docstring)."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.app = ctx.app
        cfg = self.app.config.desk
        self.sessions = Sessions(self.app.store, self.app.clock, cfg.session_lifetime)
        self.throttle = Throttle(self.app.clock, cfg.throttle_window)
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def base(request: Request) -> str:
        """The desk's URL path (behind a proxy: with its ``root_path``)."""
        return str(request.scope.get("root_path", "")).rstrip("/")

    def render(
        self, request: Request, template: str, lang: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        def t(key: str, /, **kw: object) -> str:
            return i18n.text(lang, key, **kw)

        html = self.env.get_template(template).render(
            t=t,
            lang=lang,
            html_lang=i18n.HTML_LANG[lang],
            languages=i18n.NAMES,
            base=self.base(request),
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def _auth(self, request: Request) -> tuple[SessionRow, EditorRow] | None:
        return self.sessions.find(request.cookies.get(SESSION_COOKIE))

    def _to_login(self, request: Request, expired: bool = False) -> Response:
        query = "?expired=1" if expired and request.cookies.get(SESSION_COOKIE) else ""
        resp = RedirectResponse(f"{self.base(request)}/login{query}", status_code=303)
        if request.cookies.get(SESSION_COOKIE):
            resp.delete_cookie(SESSION_COOKIE, path=self.base(request) or "/")
        return resp

    def _city_name(self, city_id: str, lang: str) -> str:
        return self.app.config.city(city_id).name_in(lang)

    def _local(self, city_id: str) -> Callable[[datetime | None], str]:
        tz = self.app.config.city(city_id).tz

        def fmt(dt: datetime | None) -> str:
            return "" if dt is None else dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")

        return fmt

    def _common(self, session: SessionRow, editor: EditorRow) -> dict[str, Any]:
        return {
            "editor": editor,
            "csrf": session.csrf,
            "city_name": self._city_name(editor.city_id, session.language),
        }

    async def _protected(
        self,
        request: Request,
        page: Callable[[Request, SessionRow, EditorRow, Mapping[str, str]], Response],
        *,
        post: bool = False,
    ) -> Response:
        """Run ``page`` for a signed-in editor (a POST with a valid CSRF token)."""
        form: dict[str, str] = {}
        if post:
            try:
                form = await read_form(request)
            except FormTooLarge:
                return Response("form too large", status_code=413)

        def run() -> Response:
            found = self._auth(request)
            if found is None:
                return self._to_login(request, expired=True)
            session, editor = found
            if post and not same(form.get("csrf", ""), session.csrf):
                log.warning("desk-csrf-refused", editor=editor.name, path=request.url.path)
                return self.render(
                    request, "error.html", session.language, status=403,
                    message=i18n.text(session.language, "refused.csrf"),
                    **self._common(session, editor),
                )  # fmt: skip
            return page(request, session, editor, form)

        return await run_in_threadpool(run)

    # ------------------------------------------------------------------ sign-in

    async def index(self, request: Request) -> Response:
        found = await run_in_threadpool(self._auth, request)
        target = "/queue" if found else "/login"
        return RedirectResponse(self.base(request) + target, status_code=303)

    async def login_form(self, request: Request) -> Response:
        return await run_in_threadpool(self._login_page, request, "", 200)

    def _login_page(self, request: Request, error: str, status: int, name: str = "") -> Response:
        lang = i18n.language(
            request.query_params.get("lang"), i18n.pick(request.headers.get("accept-language", ""))
        )
        cookie, token = self.sessions.login_token()
        if request.query_params.get("expired") and not error:
            error = i18n.text(lang, "login.expired")
        resp = self.render(
            request, "login.html", lang, status=status, token=token, error=error, name=name
        )
        resp.set_cookie(
            LOGIN_COOKIE, cookie, max_age=3600, path=self.base(request) or "/",
            secure=request.url.scheme == "https", httponly=True, samesite="strict",
        )  # fmt: skip
        return resp

    async def login(self, request: Request) -> Response:
        try:
            form = await read_form(request)
        except FormTooLarge:
            return Response("form too large", status_code=413)
        return await run_in_threadpool(self._login, request, form)

    def _login(self, request: Request, form: Mapping[str, str]) -> Response:
        from ...passwords import verify, verify_unknown

        lang = i18n.language(
            request.query_params.get("lang"), i18n.pick(request.headers.get("accept-language", ""))
        )
        name = form.get("name", "").strip()[:64]
        if not self.sessions.login_token_ok(
            request.cookies.get(LOGIN_COOKIE), form.get("token", "")
        ):
            return self._login_page(request, i18n.text(lang, "refused.csrf"), 403, name)
        cfg = self.app.config.desk
        address = request.client.host if request.client else "-"
        keys = ((f"account:{name.lower()}", cfg.max_failures_per_account),
                (f"address:{address}", cfg.max_failures_per_address))  # fmt: skip
        for key, limit in keys:
            wait = self.throttle.blocked(key, limit)
            if wait is not None:
                log.warning("desk-login-throttled", name=name, address=address)
                minutes = max(1, math.ceil(wait.total_seconds() / 60))
                return self._login_page(
                    request, i18n.text(lang, "login.throttled", minutes=minutes), 429, name
                )
        editor = self.app.store.editor(name) if name else None
        password = form.get("password", "")
        ok = verify(password, editor.password_hash) if editor else verify_unknown(password)
        if not ok or editor is None:
            for key, _limit in keys:
                self.throttle.fail(key)
            log.warning("desk-login-failed", name=name, address=address)
            return self._login_page(request, i18n.text(lang, "login.failed"), 401, name)
        self.throttle.clear(keys[0][0])
        cookie, _session = self.sessions.start(editor, editor.language)
        log.info("desk-login", editor=editor.name, city=editor.city_id, address=address)
        resp = RedirectResponse(f"{self.base(request)}/queue", status_code=303)
        resp.set_cookie(
            SESSION_COOKIE, cookie, max_age=int(cfg.session_lifetime.total_seconds()),
            path=self.base(request) or "/", secure=request.url.scheme == "https",
            httponly=True, samesite="strict",
        )  # fmt: skip
        resp.delete_cookie(LOGIN_COOKIE, path=self.base(request) or "/")
        return resp

    async def logout(self, request: Request) -> Response:
        def page(r: Request, s: SessionRow, e: EditorRow, f: Mapping[str, str]) -> Response:
            self.sessions.end(s, e)
            resp = RedirectResponse(f"{self.base(r)}/login?lang={s.language}", status_code=303)
            resp.delete_cookie(SESSION_COOKIE, path=self.base(r) or "/")
            return resp

        return await self._protected(request, page, post=True)

    async def language(self, request: Request) -> Response:
        def page(r: Request, s: SessionRow, e: EditorRow, f: Mapping[str, str]) -> Response:
            self.app.store.set_session_language(s.id_hash, i18n.language(f.get("lang"), s.language))
            back = f.get("back", "")
            # only a path inside the desk: never an open redirect
            if not back.startswith("/") or back.startswith("//") or "\\" in back:
                back = "/queue"
            return RedirectResponse(self.base(r) + back, status_code=303)

        return await self._protected(request, page, post=True)

    # -------------------------------------------------------------------- queue

    async def queue(self, request: Request) -> Response:
        return await self._protected(request, self._queue)

    def _queue(
        self, request: Request, session: SessionRow, editor: EditorRow, _f: Mapping[str, str]
    ) -> Response:
        q = request.query_params
        lang, city = session.language, self.app.config.city(editor.city_id)
        sources = [s.id for p in self.app.config.partners(city.id) for s in p.sources]
        status = q.get("status") if q.get("status") in STATUSES else None
        flt = QueueFilter(
            status=status,
            source_id=q.get("source") if q.get("source") in sources else None,
            flag=q.get("flag") if q.get("flag") in FLAG_KINDS else None,
            since=_day(q.get("since"), city.tz),
            until=_day(q.get("until"), city.tz, next_day=True),
        )
        size = max(1, self.app.config.desk.page_size)
        page = _int(q.get("page"), 1)
        result = self.app.store.desk_queue(
            city.id, city.language, flt, limit=size, offset=(page - 1) * size
        )
        pages = max(1, math.ceil(result.total / size))
        keep = {k: v for k, v in q.items() if k != "page" and v}
        return self.render(
            request, "queue.html", lang,
            page=result, page_no=page, pages=pages, flt=flt, statuses=STATUSES,
            sources=sources, flag_kinds=FLAG_KINDS, local=self._local(city.id),
            query=lambda **kw: urlencode({**keep, **{k: v for k, v in kw.items() if v}}),
            since=q.get("since", ""), until=q.get("until", ""),
            desk_mode=city.review == "desk", **self._common(session, editor),
        )  # fmt: skip

    # -------------------------------------------------------------------- draft

    async def draft(self, request: Request) -> Response:
        return await self._protected(request, self._draft)

    def _draft(
        self, request: Request, session: SessionRow, editor: EditorRow, _f: Mapping[str, str]
    ) -> Response:
        lang = session.language
        item_id = int(request.path_params["item_id"])
        d = service.load(self.app, editor, item_id)
        if d is None:
            return self.render(
                request, "error.html", lang, status=404,
                message=i18n.text(lang, "refused.not-found"), **self._common(session, editor),
            )  # fmt: skip
        langs = service.languages(self.app, d)
        t = d.translation
        in_desk = d.delivery.state is DeliveryState.HELD and d.delivery.review_version is not None
        editing = request.query_params.get("edit", "")
        preview = None
        if t is not None:
            shown = t
            if self.app.config.city(editor.city_id).review == "desk":
                edited = (
                    None if d.text is None else (d.text.title, d.text.summary, d.text.body_html)
                )
                shown = approved_translation(t, edited)
            preview = build_draft(
                marker=marker_for(d.item.source_id, d.item.key, editor.city_id), item=d.original, version=d.version, translation=shown,
                source_city=self.app.config.city(d.item.city_id),
                target_city=self.app.config.city(editor.city_id),
            )  # fmt: skip
        q = request.query_params
        return self.render(
            request, "draft.html", lang,
            d=d, langs=langs, fields=views.fields(d.original, t, d.text),
            in_desk=in_desk, editing=editing,
            aligned=t is not None and edit.aligned(d.original.body_html, langs.source, t),
            preview=preview, local=self._local(editor.city_id),
            diff=views.diff(d.reviewed_original, d.original, langs.source)
            if d.reviewed_original is not None else [],
            done=q.get("done") if q.get("done") in ("approve", "reject", "retranslate", "edit") else "",
            refused=q.get("refused") if f"refused.{q.get('refused')}" in i18n.MESSAGES["en"] else "",
            **self._common(session, editor),
        )  # fmt: skip

    async def edit(self, request: Request) -> Response:
        return await self._protected(request, self._edit, post=True)

    def _edit(
        self, request: Request, session: SessionRow, editor: EditorRow, form: Mapping[str, str]
    ) -> Response:
        item_id = int(request.path_params["item_id"])
        key = form.get("key", "")
        field, _, index = key.partition(":")
        if field not in edit.FIELDS or not (index == edit.WHOLE or index.isdigit()):
            return self._back(request, item_id, refused="not-found")
        refused = service.save_edits(
            self.app, editor, item_id, _int(form.get("version"), 0), {key: form.get("text", "")}
        )
        anchor = "s-" + key.replace(":", "-").replace("*", "all")
        return self._back(request, item_id, refused, "edit", anchor)

    async def decide(self, request: Request) -> Response:
        return await self._protected(request, self._decide, post=True)

    def _decide(
        self, request: Request, session: SessionRow, editor: EditorRow, form: Mapping[str, str]
    ) -> Response:
        item_id = int(request.path_params["item_id"])
        try:
            decision = Decision(form.get("decision", ""))
        except ValueError:
            return self._back(request, item_id, refused="not-found")
        refused = service.decide(
            self.app, editor, item_id, _int(form.get("version"), 0), decision,
            form.get("reason", "")[:2000],
        )  # fmt: skip
        log.info("desk-decision", editor=editor.name, item=item_id, decision=decision.value,
                 refused=refused.reason if refused else None)  # fmt: skip
        return self._back(request, item_id, refused, decision.value)

    def _back(
        self,
        request: Request,
        item_id: int,
        refused: ReviewRefused | str | None = None,
        done: str = "",
        anchor: str = "",
    ) -> Response:
        reason = refused.reason if isinstance(refused, ReviewRefused) else refused
        query = f"?refused={reason}" if reason else (f"?done={done}" if done else "")
        fragment = f"#{anchor}" if anchor and not reason else ""
        return RedirectResponse(
            f"{self.base(request)}/draft/{item_id}{query}{fragment}", status_code=303
        )

    # -------------------------------------------------------------------- audit

    async def audit(self, request: Request) -> Response:
        return await self._protected(request, self._audit)

    def _audit(
        self, request: Request, session: SessionRow, editor: EditorRow, _f: Mapping[str, str]
    ) -> Response:
        size = max(1, self.app.config.desk.page_size)
        page = _int(request.query_params.get("page"), 1)
        rows, total = self.app.store.audit_log(editor.city_id, limit=size, offset=(page - 1) * size)
        return self.render(
            request, "audit.html", session.language, rows=rows, page_no=page,
            pages=max(1, math.ceil(total / size)), total=total,
            local=self._local(editor.city_id), **self._common(session, editor),
        )  # fmt: skip

    # ------------------------------------------------------------------ glossary

    async def glossary(self, request: Request) -> Response:
        return await self._protected(request, self._glossary)

    def _glossary(
        self, request: Request, session: SessionRow, editor: EditorRow, _f: Mapping[str, str]
    ) -> Response:
        city = self.app.config.city(editor.city_id)
        partners = self.app.config.partners(city.id)
        source_language = partners[0].language if partners else city.language
        rows = self.app.store.all_corrections(city.id)
        found = suggest.suggestions(
            [suggest.Correction(c.source, c.machine, c.target) for c in rows], city.language
        )
        return self.render(
            request, "glossary.html", session.language,
            suggestions=[(s, suggest.toml_lines(s, city.language, source_language))
                         for s in found],
            **self._common(session, editor),
        )  # fmt: skip


def _int(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() and len(value) < 10 else default


def _day(value: str | None, tz: Any, next_day: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` day in the city's time zone as a UTC instant (its start, or the
    next day's start for an inclusive end); None when empty or not a usable date."""
    try:
        d = date.fromisoformat(value or "")
        if next_day:
            d += timedelta(days=1)
        return datetime.combine(d, time(), tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
