"""``syncd editors``: add, list, passwd, remove through the real CLI and store;
passwords only ever as scrypt hashes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from syncd import passwords
from syncd.cli import main
from syncd.store import Store
from tests.support.configs import feed_source, write_config

SECRET = "a long enough secret"


def run(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["--config", str(config), *args], input=stdin)
    return r.exit_code, r.output


def test_editors_are_added_listed_changed_and_removed(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, feed_source("s", "https://example.invalid/f.xml"), "")
    code, out = run(
        cfg, "editors", "add", "li.wei", "--city", "jinhua", "--language", "zh",
        "--email", "li@jinhua.example", "--password-stdin", stdin=SECRET + "\n",
    )  # fmt: skip
    assert code == 0, out
    # prompted (twice) when not on stdin
    code, out = run(cfg, "editors", "add", "anna", "--city", "dueren", "--language", "de",
                    stdin=f"{SECRET}\n{SECRET}\n")  # fmt: skip
    assert code == 0, out
    code, out = run(cfg, "editors", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("anna\tdueren\tde\t-\tsince ")
    assert lines[1].startswith("li.wei\tjinhua\tzh\tli@jinhua.example\t")
    assert run(cfg, "editors", "add", "anna", "--city", "dueren", "--language", "de",
               "--password-stdin", stdin=SECRET + "\n")[1].endswith(
        "an editor named 'anna' exists already\n"
    )  # fmt: skip
    assert "no city 'paris'" in run(
        cfg, "editors", "add", "x", "--city", "paris", "--language", "de", "--password-stdin",
        stdin=SECRET + "\n",
    )[1]  # fmt: skip
    assert "at least 10 characters" in run(
        cfg, "editors", "add", "y", "--city", "dueren", "--language", "de", "--password-stdin",
        stdin="short\n",
    )[1]  # fmt: skip

    store = Store(f"sqlite:///{tmp_path}/state/syncd.db")
    try:
        old = store.editor("anna")
        assert old is not None and passwords.verify(SECRET, old.password_hash)
    finally:
        store.close()
    assert (
        run(cfg, "editors", "passwd", "anna", "--password-stdin", stdin="another secret!\n")[0] == 0
    )
    store = Store(f"sqlite:///{tmp_path}/state/syncd.db")
    try:
        new = store.editor("anna")
        assert new is not None and passwords.verify("another secret!", new.password_hash)
        assert not passwords.verify(SECRET, new.password_hash)
    finally:
        store.close()
    assert run(cfg, "editors", "remove", "anna") == (0, "removed editor anna\n")
    assert "no editor named 'anna'" in run(cfg, "editors", "remove", "anna")[1]
    assert [line.split("\t")[0] for line in run(cfg, "editors", "list")[1].splitlines()] == [
        "li.wei"
    ]
    # the password is nowhere in the database file in clear
    with sqlite3.connect(tmp_path / "state" / "syncd.db") as db:
        dump = "\n".join(db.iterdump())
    assert SECRET not in dump and "another secret!" not in dump
    assert "scrypt$15$8$3$" in dump


def test_password_hashes_verify_only_their_password() -> None:
    h = passwords.hash_password("correct horse battery")
    assert h != passwords.hash_password("correct horse battery")  # salted
    assert passwords.verify("correct horse battery", h)
    assert not passwords.verify("correct horse batterY", h)
    assert not passwords.verify("correct horse battery", "md5$abc")
    assert not passwords.verify("x", "scrypt$15$8$3$!!$!!")
    assert not passwords.needs_rehash(h) and passwords.needs_rehash("scrypt$14$8$1$a$b")
    assert passwords.verify_unknown("anything") is False
