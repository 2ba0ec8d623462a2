"""Bad options of every source kind fail at load time, naming the key and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.sources.sites import config_error

HTML = {"id": "d", "kind": "html", "url": "https://www.dueren.de/presse", "item": ".a"}
JPAGE = {"id": "j", "kind": "jpage", "url": "https://www.jinhua.gov.cn/col/col1/index.html"}
INBOUND = {"id": "p", "kind": "inbound", "secret": {"env": "S"}}


@pytest.mark.parametrize(
    ("base", "options", "key", "reason"),
    [
        (HTML, {"item": "div[["}, "item", "not a usable CSS selector"),
        (HTML, {"item": ""}, "item", "expected a CSS selector"),
        (HTML, {"remove": [".ok", "p::nonsense("]}, "remove[1]", "not a usable CSS selector"),
        (HTML, {"allow": "(unclosed"}, "allow", "not a regular expression"),
        (HTML, {"pages": 0}, "pages", "expected at least 1"),
        (HTML, {"url": "ftp://x/"}, "url", "http(s)"),
        (HTML, {"colour": "red"}, "colour", "unknown key"),
        (HTML, {"revisit": "soon"}, "revisit", "duration"),
        (JPAGE, {"body": ["#zoom", "::"]}, "body[1]", "not a usable CSS selector"),
        (JPAGE, {"per_page": 0}, "per_page", "expected at least 1"),
        (JPAGE, {"proxy": "module/jpage/dataproxy.jsp"}, "proxy", "absolute path"),
        (JPAGE, {"url": ""}, "url", "column page"),
        (INBOUND, {"listen": "8787"}, "listen", "served on the web front door"),
        (INBOUND, {"read_timeout": "1h"}, "read_timeout", "between 1s and 5m"),
        (INBOUND, {"path": "inbound"}, "path", "URL path"),
        (INBOUND, {"tolerance": "2h"}, "tolerance", "between 1s and 1h"),
        (INBOUND, {"max_bytes": 10}, "max_bytes", "at least 1024"),
        (INBOUND, {"secret": "inline!"}, "secret", "never inline"),
    ],
)
def test_bad_options_name_the_key(
    tmp_path: Path, base: dict[str, Any], options: dict[str, Any], key: str, reason: str
) -> None:
    err = config_error(tmp_path, "jinhua", {**base, **options})
    assert err.key == f"cities.jinhua.sources.{base['id']}.{key}"  # cities and sources by id
    assert reason in err.reason
