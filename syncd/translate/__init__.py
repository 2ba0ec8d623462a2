"""Translation: the ``Translator`` protocol and the Argos-backed engine behind it.

- ``engine``   loads installed Argos packages (CTranslate2 + SentencePiece) and
               translates batches of items, pivoting through English when needed;
- ``segment``  HTML → blocks → sentences and back (pure);
- ``glossary`` terms to mask and restore (pure);
- ``checks``   quality flags for editors (pure);
- ``packages`` installing, listing and removing Argos packages (``archive``: checking them).
- ``settings`` device, compute type and thread layout chosen for the machine;
- ``legs``     what every engine does around one leg (memory first, jobs through legs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import TranslateError
from ..models import Translation


@dataclass(frozen=True)
class TranslationRequest:
    """One item's text to translate. ``ref`` is the caller's correlation id."""

    ref: str
    source_language: str
    target_language: str
    title: str
    summary: str
    body_html: str


class TranslationMemory(Protocol):
    """Sentence cache kept in the store.

    ``route`` names the model and direction (``"translate-de_en@1.0"``); keys are
    normalized source sentences. ``recall`` returns only the sentences it knows.
    """

    def recall(self, route: str, sentences: Sequence[str]) -> dict[str, str]: ...

    def remember(self, route: str, pairs: Mapping[str, str]) -> None: ...


class Translator(Protocol):
    """Turns items into another language, offline.

    ``translate`` handles many requests at once so the engine can batch sentences of
    all items per language leg; it returns, in order, a ``Translation`` or the
    ``TranslateError`` (e.g. ``ModelMissing``) for each request: one bad item never
    fails the others. ``missing`` lists what is not installed for a route, with the
    command that installs it (empty when the route works).
    """

    def translate(
        self, requests: Sequence[TranslationRequest]
    ) -> list[Translation | TranslateError]: ...

    def missing(self, source_language: str, target_language: str) -> list[str]: ...

    def describe_settings(self) -> str:
        """One line for ``syncd check``: where and how it translates (raises
        ``TranslateError`` when the configured device cannot be used)."""
        ...

    def close(self) -> None: ...
