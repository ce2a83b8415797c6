"""Query codes (查询码), plain Python: no I/O.

The public progress lookup needs a secret the applicant holds. A case number is sequential and six
characters of an ID number are about 3×10⁵ guesses (issue 15); a query code is drawn at random when a
case is accepted and printed on every notice next to the case number (and inside its QR code link).

The alphabet leaves out the characters people misread (0/O, 1/I/L): 31 symbols, so 8 characters are
31⁸ ≈ 8.5×10¹¹ codes per case number, against the gateway's rate limit per client. The lookup compares
digests of (case number, code), never the code itself: what a timing difference could tell is about a
digest, which says nothing about the code.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from shared.errors import InvalidArgument

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# a default, not a number of the seeds or the law: long enough that guessing one case's code through a
# rate-limited public route takes longer than the case lives; a province may configure longer codes
QUERY_CODE_LENGTH_DEFAULT = 8
MIN_LENGTH, MAX_LENGTH = 8, 16
_SEPARATORS = re.compile(r"[\s\-]+")


def new_query_code(length: int = QUERY_CODE_LENGTH_DEFAULT) -> str:
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"a query code has {MIN_LENGTH} to {MAX_LENGTH} characters, not {length}")
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def check_query_code(code: str, field_name: str = "query_code") -> str:
    """A code as a person types it (any case, spaces or hyphens between groups) in its one form; a code
    that cannot be one (length, a character outside the alphabet) is refused naming the field. Whether it
    is the case's code is for the lookup, which answers a wrong code as it answers an unknown case."""
    c = _SEPARATORS.sub("", code or "").upper()
    if not c:
        raise InvalidArgument(field_name, "请输入通知书上的查询码")
    if not MIN_LENGTH <= len(c) <= MAX_LENGTH or any(ch not in ALPHABET for ch in c):
        raise InvalidArgument(field_name, f"查询码为通知书上的 {QUERY_CODE_LENGTH_DEFAULT} 位字母和数字")
    return c


def query_code_digest(case_number: str, code: str) -> str:
    """What the row keeps and the lookup compares: SHA-256 of the case number and the code (so one digest
    is worth nothing for another case)."""
    return hashlib.sha256(f"{case_number}\x1f{code}".encode()).hexdigest()
