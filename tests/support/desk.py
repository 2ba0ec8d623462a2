"""The editors' desk in tests: a pipeline whose Jinhua reviews in the desk, and its
editors. Contains no business logic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syncd.passwords import hash_password
from syncd.store import Store
from syncd.store.editors import EditorRow
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
