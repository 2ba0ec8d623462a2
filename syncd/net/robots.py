"""robots.txt as RFC 9309 says: parsing, matching, and a per-origin cache. Contains no
business logic.

- the group whose user-agent matches syncd's product token is used, else the ``*``
  group (several matching groups are merged);
- the longest matching rule wins, ``Allow`` on a tie; ``*`` and a final ``$`` work as
  wildcards; an empty ``Disallow`` allows everything;
- a 4xx answer (no robots.txt) allows everything; a 5xx or network failure is not
  cached and the caller decides (the client treats it as a failed fetch: RFC 9309
  says to assume complete disallow while the file is unreachable);
- cached for at most a day per origin; ``Crawl-delay`` is kept (non-standard but
  common) so the client can space its requests.

``urllib.robotparser`` is not used: it applies the first matching rule rather than
the longest, and ignores ``$`` and ``*``.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

TTL = timedelta(hours=24)
MAX_BYTES = 512 * 1024
_LINE = re.compile(r"^\s*([A-Za-z-]+)\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class Rules:
    """The rules of one robots.txt for one user agent."""

    allow: tuple[str, ...] = ()
    disallow: tuple[str, ...] = ()
    crawl_delay: float | None = None

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        target = _norm(parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        best_len, verdict = -1, True
        for rules, allow in ((self.disallow, False), (self.allow, True)):
            for pattern in rules:
                if _matches(pattern, target) and (
                    len(pattern) > best_len or (allow and len(pattern) == best_len)
                ):
                    best_len, verdict = len(pattern), allow
        return verdict


ALLOW_ALL = Rules()


def _norm(path: str) -> str:
    # Compare decoded forms so that /%7Efoo and /~foo are one path.
    return unquote(path)


def _matches(pattern: str, target: str) -> bool:
    """Glob match from the start of ``target``; ``*`` any run, final ``$`` the end.

    Greedy with one backtrack point (the classic wildcard algorithm), so a hostile
    pattern like ``*a*a*a*a*b`` costs O(len(pattern) * len(target)), not exponential.
    """
    anchored = pattern.endswith("$")
    pat = _norm(pattern[:-1] if anchored else pattern)
    if not anchored:
        pat += "*"
    p = t = 0
    star_p, star_t = -1, 0
    while t < len(target):
        if p < len(pat) and pat[p] == "*":
            star_p, star_t = p, t
            p += 1
        elif p < len(pat) and pat[p] == target[t]:
            p += 1
            t += 1
        elif star_p >= 0:
            p = star_p + 1
            star_t += 1
            t = star_t
        else:
            return False
    while p < len(pat) and pat[p] == "*":
        p += 1
    return p == len(pat)


def parse(text: str, agent: str) -> Rules:
    """The rules in ``text`` that apply to the product token ``agent`` (e.g. "syncd")."""
    agent = agent.lower()
    groups: list[tuple[list[str], list[tuple[str, str]]]] = []
    in_agents = False
    for raw in text.splitlines():
        m = _LINE.match(raw.split("#", 1)[0])
        if not m:
            continue
        field, value = m.group(1).lower(), m.group(2)
        if field == "user-agent":
            if not in_agents:
                groups.append(([], []))
                in_agents = True
            groups[-1][0].append(value.lower())
        elif field in ("allow", "disallow", "crawl-delay") and groups:
            in_agents = False
            groups[-1][1].append((field, value))
    mine = [g for g in groups if any(a != "*" and agent.startswith(a) for a in g[0])]
    if not mine:
        mine = [g for g in groups if "*" in g[0]]
    allow: list[str] = []
    disallow: list[str] = []
    delay: float | None = None
    for _agents, rules in mine:
        for field, value in rules:
            if field == "crawl-delay":
                with contextlib.suppress(ValueError):
                    delay = max(delay or 0.0, float(value))
            elif value:
                (allow if field == "allow" else disallow).append(value)
    return Rules(tuple(allow), tuple(disallow), delay)


class RobotsCache:
    """Per-origin rules, fetched at most once a day (thread-safe).

    ``fetch(robots_url) -> (status, body)`` performs the request; it raises for network
    failures, which propagate and are not cached.
    """

    def __init__(
        self,
        fetch: Callable[[str], tuple[int, bytes]],
        agent: str,
        clock: Callable[[], datetime],
        ttl: timedelta = TTL,
    ) -> None:
        self._fetch = fetch
        self._agent = agent
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[datetime, Rules]] = {}

    def rules(self, url: str) -> Rules:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        now = self._clock()
        with self._lock:
            hit = self._cache.get(origin)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        status, body = self._fetch(origin + "/robots.txt")
        if 200 <= status < 300:
            rules = parse(body[:MAX_BYTES].decode("utf-8", "replace"), self._agent)
        elif 400 <= status < 500:
            rules = ALLOW_ALL
        else:
            raise RobotsUnavailable(status)
        with self._lock:
            self._cache[origin] = (now, rules)
        return rules


class RobotsUnavailable(Exception):
    """robots.txt answered with a server error (internal: the client maps it).
    ``headers`` and ``body`` are the answer's, when the fetcher kept them (a caller
    may recognise a challenge page in them)."""

    def __init__(
        self, status: int, headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> None:
        self.status = status
        self.headers: Mapping[str, str] = headers or {}
        self.body = body
        super().__init__(f"HTTP {status}")
