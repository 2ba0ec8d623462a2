"""`syncd check --live`: every target contacted with its credentials, every source
fetched once, every check printed ok or FAIL; nothing recorded.

A fake WordPress on loopback (a fake *server*) answers the three ways a target can be
wrong: a wrong application password, a user without the syncd_bot role, the
syncd-bridge plugin missing. The same checks run against the suite's real WordPress
(marker ``wordpress``) for the password and the role; the plugin is a must-use plugin
there, so its absence is shown against the fake only.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.cli import DE_ITEM, cli, install_models, serve_feeds
from tests.support.configs import feed_source, write_config
from tests.support.loopback import LoopbackServer, Reply, Request

PASSWORD_ENV = "SYNCD_TEST_LIVE_WP_PASSWORD"
GOOD = "abcd efgh ijkl mnop qrst uvwx"


class FakeWordPress:
    """``/?rest_route=…``: users/me and the posts schema, as WordPress answers them."""

    def __init__(self, server: LoopbackServer) -> None:
        self.role, self.plugin = "syncd_bot", True
        server.routes["/"] = self.handle
        self.url = server.url + "/"

    def handle(self, req: Request) -> Reply:
        route = parse_qs(urlsplit(req.path).query).get("rest_route", [""])[0]
        expected = "Basic " + base64.b64encode(f"bot:{GOOD}".encode()).decode()
        if req.headers.get("authorization") != expected:
            body = {"code": "incorrect_password", "message": "The password is incorrect."}
            return Reply(401, json.dumps(body).encode())
        if route == "/wp/v2/users/me":
            caps = {"read": True, "edit_posts": True, "upload_files": True}
            me = {"id": 7, "roles": [self.role], "capabilities": caps}
            return Reply(200, json.dumps(me).encode(), {"Content-Type": "application/json"})
        if route == "/wp/v2/posts" and req.method == "OPTIONS":
            meta = {"syncd_source": {"type": "string"}} if self.plugin else {}
            schema = {"schema": {"properties": {"meta": {"properties": meta}}}}
            return Reply(200, json.dumps(schema).encode(), {"Content-Type": "application/json"})
        return Reply(404, b"{}")


def wordpress_config(tmp_path: Path, feeds: LoopbackServer, url: str, user: str) -> Path:
    config = write_config(tmp_path, feed_source("dueren-news", f"{feeds.url}/de.xml"), "")
    text = config.read_text(encoding="utf-8").replace(
        'target = { kind = "outbox", path = "drafts/jinhua" }',
        f'target = {{ kind = "wordpress", url = "{url}", user = "{user}", '
        f'password = {{ env = "{PASSWORD_ENV}" }} }}',
    )
    config.write_text(text, encoding="utf-8")
    return config


@pytest.mark.parametrize("wrong", ["nothing", "password", "role", "plugin"])
def test_check_live_names_what_is_wrong_with_a_wordpress_target(
    tmp_path: Path,
    server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    wrong: str,
) -> None:
    serve_feeds(server, [DE_ITEM], [])
    wp = FakeWordPress(server)
    monkeypatch.setenv(PASSWORD_ENV, "wrong password" if wrong == "password" else GOOD)
    wp.role = "editor" if wrong == "role" else "syncd_bot"
    wp.plugin = wrong != "plugin"
    config = wordpress_config(tmp_path, server, wp.url, "bot")
    if wrong == "nothing":  # everything in place, models too: exit 0
        install_models(config, request.getfixturevalue("argos_package_dir"))
    r = cli(config, "check", "--live")
    lines = r.output.splitlines()
    name = "target jinhua (wordpress)"
    assert "ok   source dueren-news: fetch (1 items)" in lines
    assert f"ok   {name}: site {wp.url}" in lines
    assert "ok   target dueren (outbox): nothing to contact" in lines
    fails = [line for line in lines if line.startswith("FAIL")]
    if wrong == "nothing":
        assert r.exit_code == 0, r.output
        assert fails == [] and f"ok   {name}: plugin syncd-bridge" in lines
        return
    assert r.exit_code == 6, r.output
    (fail,) = [f for f in fails if "models" not in f]
    expect = {
        "password": f"FAIL {name}: user bot: refused: wrong user or application password?",
        "role": f"FAIL {name}: user bot has the syncd_bot role: roles: editor;",
        "plugin": f"FAIL {name}: plugin syncd-bridge: not installed",
    }[wrong]
    assert fail.startswith(expect), r.output
    assert GOOD not in r.output and "wrong password" not in r.output
    assert not (tmp_path / "state").exists()  # check records nothing


@pytest.mark.wordpress
@pytest.mark.parametrize("who", ["bot", "wrong-password", "editor"])
def test_check_live_against_the_real_wordpress(
    tmp_path: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, who: str
) -> None:
    from tests.support.wordpress import ensure_wordpress

    wp = ensure_wordpress()
    user = wp.credentials("editor" if who == "editor" else "bot")
    password = "xxxx xxxx xxxx xxxx xxxx xxxx" if who == "wrong-password" else user.password
    monkeypatch.setenv(PASSWORD_ENV, password)
    serve_feeds(server, [DE_ITEM], [])
    config = wordpress_config(tmp_path, server, wp.url + "/", user.user)
    r = cli(config, "check", "--live")
    name = f"target jinhua (wordpress): user {user.user}"
    if who == "bot":
        assert f"ok   {name} has the syncd_bot role" in r.output, r.output
        assert "ok   target jinhua (wordpress): plugin syncd-bridge" in r.output
    elif who == "editor":
        assert f"FAIL {name} has the syncd_bot role: roles: editor" in r.output, r.output
    else:
        assert f"FAIL {name}: refused: wrong user or application password?" in r.output
        assert password not in r.output
