"""``/healthz`` and ``/metrics`` on the daemon's web front door.

- ``GET /healthz``: JSON ``{"status", "live", "ready", "run_state", "reasons",
  "problems"}``; 200 when ready, 503 when not (``syncd.health.readiness``: the
  scheduler runs, the store is writable, every enabled source polled within
  ``health.stale_polls`` intervals, no target refused or unreachable). ``?probe=live``
  answers liveness only (200 while the process and its scheduler run), for a
  supervisor that should restart syncd only when it is stuck, not when a partner's
  server is down.
- ``GET /metrics``: the Prometheus text format (``syncd.metrics``).

Both read; neither changes syncd's state (the writability check takes the store's
write lock and writes the same value back). No secrets are in either: reasons are
the messages ``syncd status`` prints.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import StoreError
from ..health import Problem, Verdict, readiness
from ..metrics import CONTENT_TYPE
from ..status import missing_for, verdict
from .context import WebContext


def ops_routes(ctx: WebContext) -> list[BaseRoute]:
    app = ctx.app

    def current() -> Verdict:
        # the daemon's own translator knows best which routes it can serve
        t = app.built_translator()
        missing = None if t is None else missing_for(app.config, t)
        return verdict(app.config, app.store, app.clock(), missing)

    def problems() -> list[Problem]:
        return list(current().problems)

    app.metrics.watch(app.config, app.store, app.clock, app.built_translator, problems)

    # plain functions: Starlette runs them on its thread pool, off the event loop
    def healthz(request: Request) -> JSONResponse:
        alive, state = ctx.scheduler_alive(), ctx.run_state()
        if request.query_params.get("probe") == "live":
            r = readiness(state, alive, None, verdict_none())
            return JSONResponse(
                {"status": "ok" if r.live else "unavailable", "live": r.live,
                 "run_state": state, "reasons": list(r.reasons)},
                status_code=200 if r.live else 503,
            )  # fmt: skip
        store_problem = None
        try:
            app.store.check_writable()
        except StoreError as exc:
            store_problem = str(exc)
        try:
            v = current()
        except StoreError as exc:
            store_problem = store_problem or str(exc)
            v = verdict_none()
        r = readiness(state, alive, store_problem, v)
        body = {
            "status": "ok" if r.ready else "unavailable",
            "live": r.live,
            "ready": r.ready,
            "run_state": state,
            "reasons": list(r.reasons),
            "problems": [p.as_dict() for p in v.problems],
        }
        return JSONResponse(body, status_code=200 if r.ready else 503)

    def metrics(request: Request) -> Response:
        return Response(app.metrics.exposition(), media_type=CONTENT_TYPE)

    return [Route("/healthz", healthz), Route("/metrics", metrics)]


def verdict_none() -> Verdict:
    return Verdict(())
