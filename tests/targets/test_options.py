"""Target keys as the config loader reads them from TOML (types, defaults, errors)."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from syncd.config import ConfigError, Secret, parse
from syncd.kinds import TABLE
from syncd.targets import webhook, wordpress

CITY = """
[[cities]]
id = "jinhua"
name = "Jinhua"
language = "zh"
timezone = "Asia/Shanghai"
target = {target}
"""


def load(target: str, tmp_path: Path) -> object:
    data = tomllib.loads(CITY.format(target=target))
    return parse(data, tmp_path / "syncd.toml", kinds=TABLE).cities[0].target.options


def test_wordpress_keys(tmp_path: Path) -> None:
    opts = load(
        '{ kind = "wordpress", url = "https://p.example/", user = "syncd", '
        'password = { file = "secrets/wp" }, categories = { Rathaus = 5 }, '
        'tags = { Rathaus = "市政厅" }, timeout = "10s", upload_images = false }',
        tmp_path,
    )
    assert isinstance(opts, wordpress.Options)
    assert opts.password == Secret(file=tmp_path / "secrets/wp", where=opts.password.where)
    assert (opts.categories, opts.tags) == ({"Rathaus": 5}, {"Rathaus": "市政厅"})
    assert opts.timeout == timedelta(seconds=10) and not opts.upload_images
    assert (opts.author, opts.allow_private_images) == (0, False)


def test_webhook_keys(tmp_path: Path) -> None:
    opts = load(
        '{ kind = "webhook", url = "https://r.example/h", secret = { env = "HOOK" } }', tmp_path
    )
    assert isinstance(opts, webhook.Options)
    assert opts.secret.env == "HOOK" and opts.timeout == timedelta(seconds=30)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ('{ kind = "wordpress", url = "u", user = "x", password = "hunter2" }', "never inline"),
        ('{ kind = "wordpress", url = "u", user = "x", password = { env = "P" }, '
         'categories = { A = "5" } }',
         "categories.A: expected an integer"),
        ('{ kind = "webhook", url = "u", secret = { env = "S" }, retries = 3 }', "unknown key"),
    ],
)  # fmt: skip
def test_bad_target_keys_name_the_key(target: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        load(target, tmp_path)
