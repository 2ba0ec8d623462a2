"""The editors' desk in tests: a pipeline whose Jinhua reviews in the desk, and its
editors. Contains no business logic."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from syncd.passwords import hash_password
from syncd.store import Store
from syncd.store.editors import EditorRow
from syncd.web import WebContext, WebServer, make_web_app
from tests.support.pipeline import NOW, Pipeline, two_cities

PASSWORD = "correct horse battery"
#: one hash for every test editor: scrypt is slow on purpose
_HASH: list[str] = []


def password_hash() -> str:
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    return _HASH[0]


def add_editor(
    store: Store, name: str, city: str, language: str, email: str | None = None
) -> EditorRow:
    assert store.add_editor(name, city, language, email, password_hash(), NOW)
    row = store.editor(name)
    assert row is not None
    return row


def desk_pipeline(tmp_path: Path, *, review: str = "desk", **kw: Any) -> Pipeline:
    """Düren ⇄ Jinhua where Jinhua reviews in the desk (``review``)."""
    config_kw = {k: kw.pop(k) for k in list(kw) if k in ("jinhua_target", "sync", "extra")}
    return Pipeline(tmp_path, two_cities(tmp_path, review={"jinhua": review}, **config_kw), **kw)


# ------------------------------------------------------------------ the desk's pages

_HIDDEN = r'name="{name}" value="([^"]*)"'


def hidden(html: str, name: str) -> str:
    """The value of the first hidden input ``name`` on a page."""
    m = re.search(_HIDDEN.format(name=name), html)
    assert m, f"no {name} on the page"
    return m.group(1)


class DeskClient(httpx.Client):
    """An HTTP client of the real front door (uvicorn on a loopback port) serving
    ``pipe``'s app; redirects are not followed, cookies are kept. ``root_path``: as
    behind a reverse proxy that serves syncd under that prefix and strips it from
    the paths it forwards."""

    def __init__(self, pipe: Pipeline, root_path: str = "") -> None:
        self.server = WebServer(
            make_web_app(WebContext(pipe.app)), "127.0.0.1:0", root_path=root_path
        )
        self.server.start()
        super().__init__(
            base_url=f"http://127.0.0.1:{self.server.port}", trust_env=False, timeout=30
        )

    def close(self) -> None:
        super().close()
        self.server.stop()


def login(
    client: httpx.Client, name: str, password: str = PASSWORD, lang: str = ""
) -> httpx.Response:
    """Sign in through the form (its double-submit token included)."""
    form = client.get(f"/desk/login{'?lang=' + lang if lang else ''}")
    assert form.status_code == 200
    return client.post(
        f"/desk/login{'?lang=' + lang if lang else ''}",
        data={"name": name, "password": password, "token": hidden(form.text, "token")},
    )


def csrf(client: httpx.Client, path: str = "/desk/queue") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return hidden(page.text, "csrf")
