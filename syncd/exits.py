"""syncd's exit codes: one table, documented in docs/operations.md. Contains no
business logic.

    0  OK                      everything worked; nothing needs a person
    1  ERROR                   the command could not do its job: the store, its lock,
                               the network, a model file (one line on stderr)
    2  USAGE                   a bad command line, or a config (or glossary) that
                               cannot be used
    3  SOURCES_FAILED          `sync`: a source failed
    4  DELIVERIES_FAILED       `sync`: a delivery failed or is parked, a target is
                               refused or unreachable, or models are missing
    5  SOURCES_AND_DELIVERIES  `sync`: both 3 and 4
    6  ATTENTION               `status`, `check`: something needs a person (the
                               reasons are printed, and in `status --json`'s verdict)
"""

from __future__ import annotations

import enum


class Exit(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    SOURCES_FAILED = 3
    DELIVERIES_FAILED = 4
    SOURCES_AND_DELIVERIES = 5
    ATTENTION = 6


def of_pass(sources_failed: bool, deliveries_failed: bool) -> Exit:
    """The exit code of one `syncd sync` pass."""
    if sources_failed and deliveries_failed:
        return Exit.SOURCES_AND_DELIVERIES
    if sources_failed:
        return Exit.SOURCES_FAILED
    if deliveries_failed:
        return Exit.DELIVERIES_FAILED
    return Exit.OK
