"""A handle on the real PostgreSQL that ``scripts/postgres/pg-test-server`` runs on 127.0.0.1.

Typical use (the ``store_url`` fixture in tests/conftest.py)::

    base = ensure_postgres()          # starts the server if $PG_TEST_DIR/env is not up
    with scratch_schema(base) as url: # a fresh, empty schema for one test; dropped after
        store = Store(url)

Each test gets its own schema (``search_path`` set in the URL), which is much cheaper
than a database per test and as isolated for syncd (it names no schema itself). The
server is left running after the tests; ``scripts/postgres/pg-test-server stop`` stops it.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from tests.support.wordpress import read_env_file

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "postgres" / "pg-test-server"


def state_dir() -> Path:
    """The server's state folder: ``$PG_TEST_DIR`` or ``<repo>/.pg-test``."""
    return Path(os.environ.get("PG_TEST_DIR") or REPO / ".pg-test")


def _answers(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def ensure_postgres() -> str:
    """The SQLAlchemy URL of the test database, starting the server when needed."""
    env = state_dir() / "env"
    if env.is_file():
        url = read_env_file(env)["PG_TEST_URL"]
        if _answers(url):
            return url
    done = subprocess.run(
        [str(SCRIPT), "start"], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"pg-test-server start failed:\n{done.stderr[-3000:]}")
    return read_env_file(env)["PG_TEST_URL"]


def with_schema(url: str, schema: str) -> str:
    """``url`` whose connections work in ``schema`` (libpq ``options``)."""
    return (
        sa.engine.make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


@contextmanager
def scratch_schema(base_url: str) -> Iterator[str]:
    """A new empty schema for one test, dropped (with everything in it) afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        yield with_schema(base_url, schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()
