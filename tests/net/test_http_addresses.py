"""Where the polite client may go (issue 9): only public addresses unless allowed, the
address checked is the address connected (one lookup), redirects stay on the source's
host or its allow_hosts, and inline credentials never reach an error text. Real sockets
on loopback; names are resolved by an injected resolver (no DNS in tests)."""

from __future__ import annotations

import threading

import pytest

from syncd.config import Duration, HttpConfig
from syncd.errors import NetError, NetOffline, RetryAfter
from syncd.net.http import PoliteClient
from syncd.net.netguard import is_public_address
from tests.support.loopback import LoopbackServer, Reply, serve


class Resolver:
    """A fake DNS at the edge: ``answers[name]`` is returned, every lookup recorded."""

    def __init__(self, **answers: list[str]) -> None:
        self.answers = {k.replace("_", "."): v for k, v in answers.items()}
        self.lookups: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int) -> list[str]:
        with self._lock:
            self.lookups.append(host)
        return self.answers[host]


def make(
    clients: list[PoliteClient], resolver: Resolver | None = None, **kw: object
) -> PoliteClient:
    opts: dict[str, object] = {"host_delay": Duration(0), "timeout": Duration(seconds=2)}
    opts.update(kw)
    extra = {"resolver": resolver} if resolver else {}
    c = PoliteClient(HttpConfig(**opts), **extra)  # type: ignore[arg-type]
    clients.append(c)
    return c


@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",  # carrier-grade NAT
        "100.100.100.200",  # a Chinese cloud's metadata service, inside 100.64/10
        "169.254.169.254",  # link-local metadata
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "0.0.0.0",
        "255.255.255.255",
        "192.0.2.10",  # documentation
        "198.18.0.1",  # benchmarking
        "240.0.0.1",  # reserved
        "224.0.0.251",  # multicast
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fec0::1",  # site-local
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:100.100.100.200",
        "::127.0.0.1",  # IPv4-compatible
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::1",  # local-use NAT64
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001:db8::1",
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize("host", ["100.100.100.200", "100.64.0.1", "[::ffff:169.254.169.254]"])
def test_a_literal_address_that_is_not_public_is_never_connected(
    clients: list[PoliteClient], host: str
) -> None:
    # Refused before any socket: offline, a connect attempt would be a timeout instead.
    with pytest.raises(NetError, match="not a public address"):
        make(clients).get("s", f"http://{host}/latest/meta-data/")


def test_a_name_resolving_to_a_private_address_is_refused_at_connect(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    server.routes["/feed"] = lambda req: Reply(200, b"secret intranet")
    dns = Resolver(rebind_example=["127.0.0.1"])
    client = make(clients, dns)
    url = f"http://rebind.example:{server.port}/feed"
    client.check_url("s", url)  # a name passes the early check: it is judged at connect
    with pytest.raises(NetError, match="rebind.example resolves to 127.0.0.1"):
        client.get("s", url)
    assert server.requests == []
    assert dns.lookups == ["rebind.example"]


def test_one_private_answer_among_public_ones_refuses_the_name(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    dns = Resolver(mixed_example=["93.184.216.34", "100.100.100.200"])
    with pytest.raises(NetError, match="resolves to 100.100.100.200"):
        make(clients, dns).get("s", f"http://mixed.example:{server.port}/")
    assert server.requests == []


def test_the_address_checked_is_the_address_connected(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    server.routes["/feed"] = lambda req: Reply(200, b"ok")
    dns = Resolver(feeds_example=["127.0.0.1"])
    client = make(clients, dns, allow_private=True)
    assert client.get("s", f"http://feeds.example:{server.port}/feed").content == b"ok"
    # one lookup, no second one by the socket layer, and the name kept for the server
    assert dns.lookups == ["feeds.example"]
    assert server.requests[0].headers["host"] == f"feeds.example:{server.port}"


def test_the_next_checked_address_is_tried_when_one_refuses(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    server.routes["/feed"] = lambda req: Reply(200, b"ok")
    dns = Resolver(feeds_example=["127.0.0.2", "127.0.0.1"])  # nothing listens on .2
    client = make(clients, dns, allow_private=True)
    assert client.get("s", f"http://feeds.example:{server.port}/feed").content == b"ok"
    assert dns.lookups == ["feeds.example"]


def test_a_name_that_does_not_resolve_is_said_so(clients: list[PoliteClient]) -> None:
    def nxdomain(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    client = PoliteClient(HttpConfig(host_delay=Duration(0)), resolver=nxdomain)
    clients.append(client)
    # NetOffline: syncd's side (no DNS), so the source is not backed off for it
    with pytest.raises(NetOffline, match="name not resolved"):
        client.get("s", "http://nowhere.example/feed")


# ----------------------------------------------------------------------------- redirects


def _two_hosts(server: LoopbackServer) -> Resolver:
    server.routes["/feed"] = lambda req: Reply(
        302, b"", {"Location": f"http://b.example:{server.port}/moved"}
    )
    server.routes["/moved"] = lambda req: Reply(200, b"moved here")
    server.routes["/local"] = lambda req: Reply(301, b"", {"Location": "/moved"})
    return Resolver(a_example=["127.0.0.1"], b_example=["127.0.0.1"])


def test_a_redirect_to_another_host_is_refused(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    client = make(clients, _two_hosts(server), allow_private=True)
    with pytest.raises(NetError, match=r"redirect to a host that is not allowed \(b.example\)"):
        client.get("s", f"http://a.example:{server.port}/feed")
    assert [r.path for r in server.requests] == ["/feed"]
    # on the same host a redirect is followed
    assert client.get("s", f"http://a.example:{server.port}/local").content == b"moved here"


def test_a_redirect_to_an_allowed_host_is_followed(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    client = make(clients, _two_hosts(server), allow_private=True)
    resp = client.get(
        "s", f"http://a.example:{server.port}/feed", allow_hosts=lambda h: h == "b.example"
    )
    assert (resp.content, resp.url) == (b"moved here", f"http://b.example:{server.port}/moved")


def test_robots_txt_may_redirect_to_another_host(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    dns = _two_hosts(server)
    server.routes["/robots.txt"] = lambda req: (
        Reply(200, b"User-agent: *\nDisallow: /private\n")
        if req.headers["host"].startswith("b.example")
        else Reply(301, b"", {"Location": f"http://b.example:{server.port}/robots.txt"})
    )
    client = make(clients, dns, allow_private=True, respect_robots=True)
    assert client.robots_allows("s", f"http://a.example:{server.port}/news")
    assert not client.robots_allows("s", f"http://a.example:{server.port}/private/x")


def test_a_redirect_to_a_metadata_address_is_refused_by_the_host_rule(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    server.routes["/go"] = lambda req: Reply(302, b"", {"Location": "http://100.100.100.200/"})
    dns = Resolver(a_example=["127.0.0.1"])
    client = make(clients, dns, allow_private=True)
    with pytest.raises(NetError, match="redirect to a host that is not allowed"):
        client.get("s", f"http://a.example:{server.port}/go")


# ---------------------------------------------------------------------------- credentials


def _no_secret(exc: NetError) -> None:
    assert "secret" not in str(exc)
    assert "secret" not in exc.url


@pytest.mark.parametrize("status", [404, 500])
def test_a_failing_fetch_with_inline_credentials_does_not_show_them(
    server: LoopbackServer, clients: list[PoliteClient], status: int
) -> None:
    server.routes["/feed"] = lambda req: Reply(status, b"no")
    with pytest.raises(NetError) as info:
        make(clients, allow_private=True).get(
            "s", f"http://user:secret@127.0.0.1:{server.port}/feed"
        )
    _no_secret(info.value)
    assert str(info.value).startswith(f"http://***@127.0.0.1:{server.port}/feed: HTTP {status}")


def test_credentials_stay_hidden_in_every_kind_of_failure(
    server: LoopbackServer, clients: list[PoliteClient]
) -> None:
    server.routes["/busy"] = lambda req: Reply(429, b"", {"Retry-After": "120"})
    server.routes["/huge"] = lambda req: Reply(200, bytes(4096))
    server.routes["/away"] = lambda req: Reply(302, b"", {"Location": "http://elsewhere.example/"})
    client = make(clients, allow_private=True, max_bytes=1024)
    base = f"http://user:p@ss:secret@127.0.0.1:{server.port}"  # a raw "@" in the password
    for path in ("/busy", "/huge", "/away"):
        with pytest.raises(NetError) as info:
            client.get("s", base + path)
        _no_secret(info.value)
    with pytest.raises(RetryAfter):
        client.get("s", base + "/busy")
    with serve() as gone:
        closed = f"http://user:secret@127.0.0.1:{gone.port}/feed"
    with pytest.raises(NetError, match="network error") as info:
        client.get("s", closed)
    _no_secret(info.value)
    with pytest.raises(NetError, match="not a public address") as info:
        make(clients).get("s", "http://user:secret@100.100.100.200/")
    _no_secret(info.value)
