"""Editors' passwords: a memory-hard hash (scrypt), never the password. Contains no
business logic.

Why the standard library's ``hashlib.scrypt`` and not argon2 (``argon2-cffi``): both
are memory-hard and both are what OWASP's password storage guidance accepts; scrypt
comes with Python (OpenSSL), so the desk adds no compiled dependency to a daemon
that runs for months on small servers, and there is nothing to keep patched beyond
Python itself. The cost is OWASP's scrypt setting N=2^15, r=8, p=3 (32 MiB and 0.2 to
0.5 s per check on this project's 2-core machines): enough to make an offline guess
expensive, cheap enough for a sign-in that is also throttled.

A hash reads ``scrypt$15$8$3$<salt>$<digest>`` (base64): the parameters travel with
it, so stronger ones later still verify old hashes (``needs_rehash`` says when to
replace one at the next successful sign-in).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

LOG2_N, R, P = 15, 8, 3
SALT_BYTES = 16
DIGEST_BYTES = 32
#: the most memory one check may take (OpenSSL's default cap of 32 MiB is too tight)
MAX_MEM = 128 * 1024 * 1024
MIN_LENGTH = 10


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=2**log2_n,
        r=r,
        p=p,
        maxmem=MAX_MEM,
        dklen=DIGEST_BYTES,
    )


def hash_password(password: str) -> str:
    """A new hash of ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, LOG2_N, R, P)
    return f"scrypt${LOG2_N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (constant-time
    comparison); False for a hash this module cannot read."""
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or not 10 <= int(log2_n) <= 20:
            return False
        expected = base64.b64decode(digest, validate=True)
        got = _scrypt(password, base64.b64decode(salt, validate=True), int(log2_n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with other parameters than today's."""
    return not stored.startswith(f"scrypt${LOG2_N}${R}${P}$")


@functools.cache
def _dummy() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_unknown(password: str) -> bool:
    """Spend the time of a real check; always False. Used when the name is unknown,
    so that the timing does not tell which names exist."""
    verify(password, _dummy())
    return False


def problem(password: str) -> str | None:
    """Why a new password is not accepted, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if password.strip() != password:
        return "a password must not begin or end with white space"
    return None
