"""The 12345 hotline's hand-over, signed like the province's payment callback (services/fees): SM2 with SM3 and
the default user id over a canonical form of the fields, through `tongsuopy` (Tongsuo). Signatures are 128 hex
characters r‖s; keys are hex (private 64, public 128 = x‖y without the 04 prefix).

The canonical form: every field as `key=value`, key and value percent-encoded (RFC 3986, nothing kept but
A-Z a-z 0-9 - . _ ~), joined by `&`, HOTLINE_FIELDS first in their order (one left out is signed as empty),
then any other field in key order; the signature is never part of it. A value holding `&` or `=` cannot move a
field boundary.

Replays are refused: a hand-over carries its own id (`handover_id`, the complaint's external id: the same id
files once and answers the same receipt) and its time (`sent_at`), which must lie within `max_skew` of ours.

The DEV_* keys are for loopback runs, tests and the hotline simulator only; a production process refuses to
start on them or without its own SANJI_COMPLAINTS_HOTLINE_PUBLIC_KEY (settings.py, shared/config.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from urllib.parse import quote

from shared.errors import InvalidArgument, Unauthenticated
from shared.sm2 import Signer, Verifier, public_key_of

__all__ = ["DEV_HOTLINE_PRIVATE_KEY", "DEV_HOTLINE_PUBLIC_KEY", "HOTLINE_FIELDS", "Verifier", "canonical_form",
           "check_hand_over", "sign"]

DEV_HOTLINE_PRIVATE_KEY = "c86176207022d7e17257c29c616db8f22ffd9361d836eb13e5873b88b4343223"
DEV_HOTLINE_PUBLIC_KEY = ("019f851bde5ea56f30f0ba2e755d0e8f101f1d906978b334a725a0b2fd0c72e2"
                          "248b808b5531ac31f4e6ba7502b9829de9f26727b5ddef5d7047ed2d62f55bab")

HOTLINE_FIELDS = ("handover_id", "sent_at", "kind", "category", "content", "subject_tenant", "subject_department",
                  "subject_staff", "complainant_name", "complainant_phone", "anonymous")
MAX_FIELD = 4000


def canonical_form(fields: Mapping[str, str]) -> bytes:
    keys = [*HOTLINE_FIELDS, *sorted(str(k) for k in fields if k not in HOTLINE_FIELDS and k != "signature")]
    return "&".join(f"{quote(k, safe='')}={quote(str(fields.get(k, '')), safe='')}" for k in keys).encode("ascii")


def sign(fields: Mapping[str, str], private_key: str = DEV_HOTLINE_PRIVATE_KEY) -> str:
    """What the hotline system (or its simulator, or a test) does: sign the canonical form."""
    return Signer(private_key, public_key_of(private_key)).sign(canonical_form(fields))


def check_hand_over(verifier: Verifier, fields: Mapping[str, str], signature: str, now: dt.datetime,
                    max_skew: dt.timedelta) -> dict[str, str]:
    """The verified fields, or a refusal: a bad signature is Unauthenticated (nothing recorded), a stale or
    future `sent_at` is refused as a replay, a field too long is refused naming it."""
    for k, v in fields.items():
        if len(k) > 64 or len(str(v)) > MAX_FIELD:
            raise InvalidArgument(k[:64].replace("\x00", ""), f"字段过长：最多 {MAX_FIELD} 字")
        if "\x00" in k or "\x00" in str(v):
            raise InvalidArgument(k[:64].replace("\x00", "") or "fields", "字段含有不可见的空字符（\\x00）")
    if not verifier.verify(signature, canonical_form(fields)):
        raise Unauthenticated("12345 热线转办签名验证失败")
    if not fields.get("handover_id", "").strip():
        raise InvalidArgument("handover_id", "缺少转办编号")
    try:
        sent = dt.datetime.fromisoformat(fields.get("sent_at", ""))
    except ValueError:
        raise InvalidArgument("sent_at", "转办时间应为 ISO 8601 并带时区") from None
    if sent.tzinfo is None:
        raise InvalidArgument("sent_at", "转办时间应带时区")
    if abs(now - sent) > max_skew:
        raise InvalidArgument("sent_at", "转办时间与本系统时间相差过大（疑似重放），请重新签名发送")
    return dict(fields)
