"""The signed envelope of every message between the county and the province, both ways.

    {"message_id": uuid, "type": …, "sender": "province:62" | "county:620602", "receiver": …,
     "tenant": county code, "case_ref": …, "timestamp": ISO 8601 with offset, "nonce": 32 hex,
     "body": {…}, "key_id": first 16 hex of SM3(public key), "signature": SM2 r‖s hex}

The signature is SM2 (with SM3, default user id) over the canonical form: every field but `signature`, as
JSON with sorted keys, no spaces, UTF-8 (non-ASCII as is). The same function signs and verifies, here and in
the provincial platform simulator (infra/province), so the two cannot drift.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import uuid
from typing import Any

from shared.sm2 import Signer, Verifier, key_id, sm3_hex


def canonical_form(msg: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in msg.items() if k != "signature"}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def body_hash(msg: dict[str, Any]) -> str:
    """SM3 of the canonical form (what the message log keeps beside the signature)."""
    return sm3_hex(canonical_form(msg))


def seal(signer: Signer, *, type: str, sender: str, receiver: str, tenant: str, body: dict[str, Any],
         case_ref: str = "", message_id: str | None = None, now: dt.datetime | None = None,
         nonce: str | None = None) -> dict[str, Any]:
    """A new envelope, signed. A message re-sent keeps its message id (the receiver's idempotency key) and
    gets a fresh timestamp, nonce and signature."""
    msg = {"message_id": message_id or str(uuid.uuid4()), "type": type, "sender": sender, "receiver": receiver,
           "tenant": tenant, "case_ref": case_ref,
           "timestamp": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="milliseconds"),
           "nonce": nonce or secrets.token_hex(16), "body": body, "key_id": signer.key_id}
    msg["signature"] = signer.sign(canonical_form(msg))
    return msg


def signature_ok(verifier: Verifier, msg: dict[str, Any]) -> bool:
    return msg.get("key_id") == key_id(verifier.public_key) and verifier.verify(msg.get("signature", ""),
                                                                                canonical_form(msg))
