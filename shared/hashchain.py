"""A per-tenant append-only hash chain (全程留痕、过往可溯): SM3 links, SM2-signed daily heads, verification.

Used by supervision (every consumed event) and by the docking ledger (every message exchanged with the
province). A service keeps two tables of its own schema, made by `chain_tables_statements` in its migration:

- `<prefix>_records` (tenant_code, seq, kind, ref, body, recorded_at, prev_hash, hash): record `seq` of a
  tenant holds `prev_hash`, the hash of record `seq - 1` (64 zeros for the first), and `hash`, the SM3 of
  the canonical form of (tenant, prev_hash, kind, ref, body, recorded_at). `seq` is not hashed: it only
  orders storage, so a row slipped in or taken out (and the others renumbered) shows as a broken link
  rather than as every later row altered;
- `<prefix>_heads` (tenant_code, day, last_seq, last_hash, signed_at, key_id, signature): the chain's head
  at the end of a day, signed with SM2 (GB/T 32918, SM3 digest, default user id) by the service's key. A
  head covers every record up to `last_seq`: it catches what the links cannot — the last records of a
  day deleted, or records appended after the fact into a signed day;
- `<prefix>_tips` (tenant_code, seq, hash): where each tenant's chain ends, one row locked per append,
  so concurrent appends of one tenant queue instead of forking the chain.

The application role may only SELECT and INSERT records and heads (append-only; RLS by tenant). What the
database owner (or anyone with the table) does anyway is what `verify_chain` finds: it walks the records
in `seq` order and reports the FIRST finding — a record altered (its hash is not its content's), deleted
(a link or a `seq` is missing, or a signed head's record is gone), inserted (a record the chain goes round:
the next record links to the one before it; or a record in a signed day beyond its head) — or a head whose
signature does not verify. What was appended after the last signed head can only be checked by its links.

Plain functions and dataclasses; the only I/O is in `append` / `load_*`, which run on the caller's unit of
work (anything with `row`, `rows`, `execute`), so the caller's transaction holds the event and its record.
Keys are hex as in services/fees/signing.py: private 64 characters, public 128 (x‖y). They come from the
service's settings; the DEV_* pair below fills them in development mode only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from tongsuopy.crypto import hashes
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.exceptions import InvalidSignature

from shared.clock import CHINA_TZ

GENESIS = "0" * 64

# Development key pair for the chain heads (loopback runs, tests). A production process refuses it
# (the service's settings list it among the development defaults).
DEV_CHAIN_PRIVATE_KEY = "a1e5a3a2b2c8a0f35a1e6b4c76f3b1a8d1a3f6e9c2b7d4a5e8f1c3b6a9d2e5f7"
DEV_CHAIN_PUBLIC_KEY = ""  # derived below, so the pair cannot disagree

_HEX = re.compile(r"^[0-9a-f]+$")
_SM2 = ec.ECDSA(hashes.SM3())


# ---------------------------------------------------------------------------------------------
# SM3 / SM2
# ---------------------------------------------------------------------------------------------

def sm3_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def _public_hex(key: ec.EllipticCurvePublicKey) -> str:
    n = key.public_numbers()
    return f"{n.x:064x}{n.y:064x}"


def public_key_of(private_key: str) -> str:
    return _public_hex(ec.derive_private_key(int(private_key, 16), ec.SM2()).public_key())


def key_id(public_key: str) -> str:
    """A short, stable name of a public key: the first 16 hex characters of its SM3 digest."""
    return sm3_hex(bytes.fromhex(public_key))[:16]


DEV_CHAIN_PUBLIC_KEY = public_key_of(DEV_CHAIN_PRIVATE_KEY)


@dataclass(frozen=True)
class HeadSigner:
    """Signs chain heads with one SM2 private key."""

    private_key: str
    public_key: str
    _key: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        priv, pub = self.private_key.strip().lower(), self.public_key.strip().lower()
        if len(priv) != 64 or not _HEX.match(priv):
            raise ValueError("an SM2 private key is 64 hex characters")
        if len(pub) != 128 or not _HEX.match(pub):
            raise ValueError("an SM2 public key is 128 hex characters (x‖y)")
        key = ec.derive_private_key(int(priv, 16), ec.SM2())
        if _public_hex(key.public_key()) != pub:
            raise ValueError("the SM2 public key is not the private key's")
        object.__setattr__(self, "_key", key)

    @property
    def key_id(self) -> str:
        return key_id(self.public_key.lower())

    def sign(self, data: bytes) -> str:
        r, s = decode_dss_signature(self._key.sign(data, _SM2))
        return f"{r:064x}{s:064x}"


def verify_signature(public_key: str, signature: str, data: bytes) -> bool:
    pub = public_key.strip().lower()
    if len(signature or "") != 128 or not _HEX.match(signature.lower()) or len(pub) != 128:
        return False
    r, s = int(signature[:64], 16), int(signature[64:], 16)
    if r == 0 or s == 0:
        return False
    try:
        key = ec.EllipticCurvePublicNumbers(int(pub[:64], 16), int(pub[64:], 16), ec.SM2()).public_key()
        key.verify(encode_dss_signature(r, s), data, _SM2)
    except (InvalidSignature, ValueError):
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Records and heads
# ---------------------------------------------------------------------------------------------

def _instant(at: dt.datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("a chain record's time must carry its time zone")
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def canonical_record(tenant: str, prev_hash: str, kind: str, ref: str, body: str, recorded_at: dt.datetime) -> bytes:
    """The bytes a record's hash covers (a JSON array: unambiguous, whatever the fields contain)."""
    return json.dumps(["sanji-chain-1", tenant, prev_hash, kind, ref, body, _instant(recorded_at)],
                      ensure_ascii=False, separators=(",", ":")).encode()


def record_hash(tenant: str, prev_hash: str, kind: str, ref: str, body: str, recorded_at: dt.datetime) -> str:
    return sm3_hex(canonical_record(tenant, prev_hash, kind, ref, body, recorded_at))


@dataclass(frozen=True)
class ChainRecord:
    tenant: str
    seq: int
    kind: str            # what was recorded: an event type, a message kind
    ref: str             # its id (event id, message id): unique in the tenant's chain
    body: str            # its content as received (e.g. the event's proto3 JSON)
    recorded_at: dt.datetime
    prev_hash: str
    hash: str

    def content_hash(self) -> str:
        return record_hash(self.tenant, self.prev_hash, self.kind, self.ref, self.body, self.recorded_at)


def link(tenant: str, tip_seq: int, tip_hash: str, kind: str, ref: str, body: str,
         recorded_at: dt.datetime) -> ChainRecord:
    """The record that follows the tip (seq, hash) of a tenant's chain (0, GENESIS for an empty chain)."""
    h = record_hash(tenant, tip_hash, kind, ref, body, recorded_at)
    return ChainRecord(tenant, tip_seq + 1, kind, ref, body, recorded_at, tip_hash, h)


def canonical_head(tenant: str, day: dt.date, last_seq: int, last_hash: str) -> bytes:
    return json.dumps(["sanji-chain-head-1", tenant, day.isoformat(), last_seq, last_hash],
                      separators=(",", ":")).encode()


@dataclass(frozen=True)
class ChainHead:
    """The chain of `tenant` as it stood at the end of `day` (Beijing time), signed."""

    tenant: str
    day: dt.date
    last_seq: int
    last_hash: str
    signed_at: dt.datetime
    key_id: str
    signature: str


def sign_head(signer: HeadSigner, tenant: str, day: dt.date, last_seq: int, last_hash: str,
              signed_at: dt.datetime) -> ChainHead:
    return ChainHead(tenant, day, last_seq, last_hash, signed_at, signer.key_id,
                     signer.sign(canonical_head(tenant, day, last_seq, last_hash)))


def local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(CHINA_TZ).date()


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------

FINDING_TEXT = {
    "altered": "记录被篡改：内容与其哈希不符",
    "deleted": "记录被删除：链在此处断开",
    "inserted": "记录被插入：链绕过了这条记录",
    "head_signature": "链头签名无效",
    "head_mismatch": "链头与记录不符",
}


@dataclass(frozen=True)
class Finding:
    kind: str            # altered | deleted | inserted | head_signature | head_mismatch
    tenant: str
    seq: int             # the record named (for deleted: the first record after the gap, or the head's last_seq)
    ref: str
    detail: str          # for people, in Chinese

    @property
    def text(self) -> str:
        return f"{FINDING_TEXT[self.kind]}（序号 {self.seq}{'，' + self.ref if self.ref else ''}）：{self.detail}"


@dataclass(frozen=True)
class Verdict:
    tenant: str
    records_checked: int
    heads_checked: int
    last_seq: int
    last_hash: str
    finding: Finding | None

    @property
    def ok(self) -> bool:
        return self.finding is None


def verify_chain(tenant: str, records: Iterable[ChainRecord], heads: Iterable[ChainHead],
                 public_keys: dict[str, str]) -> Verdict:
    """Walk one tenant's records in `seq` order against its signed heads; the first finding, if any.

    `public_keys`: key id → public key hex (the service's current key and any it signed with before)."""
    heads = sorted(heads, key=lambda h: h.last_seq)
    for h in heads:
        pub = public_keys.get(h.key_id)
        if pub is None or not verify_signature(pub, h.signature, canonical_head(h.tenant, h.day, h.last_seq,
                                                                                 h.last_hash)):
            return Verdict(tenant, 0, 0, 0, GENESIS, Finding(
                "head_signature", tenant, h.last_seq, "", f"{h.day.isoformat()} 的链头签名无法用密钥 {h.key_id} 验证"))
    head_at = {h.last_seq: h for h in heads}
    checked = 0
    head_index = 0
    prev: ChainRecord | None = None
    prev_prev_hash = None
    it: Iterator[ChainRecord] = iter(records)
    current = next(it, None)
    while current is not None:
        following = next(it, None)
        checked += 1
        expected_seq = (prev.seq if prev else 0) + 1
        expected_prev = prev.hash if prev else GENESIS
        if current.content_hash() != current.hash:
            return Verdict(tenant, checked, 0, current.seq, current.hash, Finding(
                "altered", tenant, current.seq, current.ref,
                f"{current.kind} 记录（{_instant(current.recorded_at)}）的内容已不是写入时的内容"))
        if current.prev_hash != expected_prev:
            if following is not None and following.prev_hash == expected_prev:
                return Verdict(tenant, checked, 0, current.seq, current.hash, Finding(
                    "inserted", tenant, current.seq, current.ref,
                    f"后一条记录（序号 {following.seq}）链接的是前一条记录，{current.kind} 记录不在原链上"))
            if prev is not None and prev_prev_hash is not None and current.prev_hash == prev_prev_hash:
                return Verdict(tenant, checked, 0, prev.seq, prev.hash, Finding(
                    "inserted", tenant, prev.seq, prev.ref,
                    f"后一条记录（序号 {current.seq}）链接的是其前一条记录，{prev.kind} 记录不在原链上"))
            return Verdict(tenant, checked, 0, current.seq, current.hash, Finding(
                "deleted", tenant, current.seq, current.ref,
                f"序号 {expected_seq} 起至少一条记录缺失：本条记录链接的前一条记录已不在链中"))
        if current.seq != expected_seq:
            return Verdict(tenant, checked, 0, current.seq, current.hash, Finding(
                "deleted", tenant, current.seq, current.ref,
                f"序号 {expected_seq} 至 {current.seq - 1} 的记录缺失"))
        head = head_at.get(current.seq)
        if head is not None and head.last_hash != current.hash:
            return Verdict(tenant, checked, 0, current.seq, current.hash, Finding(
                "head_mismatch", tenant, current.seq, current.ref,
                f"{head.day.isoformat()} 的签名链头记录的是另一条记录"))
        # a record dated within a signed day but beyond that day's head was put there afterwards
        while head_index < len(heads) and heads[head_index].last_seq < current.seq:
            head_index += 1
        sealed = heads[head_index - 1] if head_index else None
        if sealed is not None and local_day(current.recorded_at) <= sealed.day:
            return Verdict(tenant, checked, 0, current.seq, current.hash, Finding(
                "inserted", tenant, current.seq, current.ref,
                f"记录日期 {local_day(current.recorded_at).isoformat()} 已由签名链头"
                f"（截至序号 {sealed.last_seq}）封存"))
        prev_prev_hash = prev.hash if prev else GENESIS
        prev, current = current, following
    last_seq = prev.seq if prev else 0
    last_hash = prev.hash if prev else GENESIS
    for h in heads:
        if h.last_seq > last_seq:
            return Verdict(tenant, checked, len(heads), last_seq, last_hash, Finding(
                "deleted", tenant, h.last_seq, "",
                f"{h.day.isoformat()} 的签名链头截至序号 {h.last_seq}，而链只到序号 {last_seq}：末尾记录被删除"))
    return Verdict(tenant, checked, len(heads), last_seq, last_hash, None)


# ---------------------------------------------------------------------------------------------
# Storage: the tables (for a migration) and the statements on a caller's unit of work
# ---------------------------------------------------------------------------------------------

def chain_tables_statements(schema: str, prefix: str = "chain", app_role: str = "sanji_app",
                            tips_extra_read: str | None = None) -> list[str]:
    """SQL for a service's migration: the records, heads and tips tables, walled by tenant (RLS); records
    and heads are append-only for the application role (SELECT and INSERT only). `tips_extra_read` widens
    reading the tips only (e.g. a named sweep scope that finds which tenants have a chain to seal)."""
    from shared.db import tenant_rls_statements

    r, h, t = f"{schema}.{prefix}_records", f"{schema}.{prefix}_heads", f"{schema}.{prefix}_tips"
    out = [
        f"""CREATE TABLE {r} (
            tenant_code text NOT NULL,
            seq bigint NOT NULL CHECK (seq > 0),
            kind text NOT NULL,
            ref text NOT NULL,
            body text NOT NULL,
            recorded_at timestamptz NOT NULL,
            prev_hash char(64) NOT NULL,
            hash char(64) NOT NULL,
            PRIMARY KEY (tenant_code, seq),
            UNIQUE (tenant_code, ref)
        )""",
        f"""CREATE TABLE {h} (
            tenant_code text NOT NULL,
            day date NOT NULL,
            last_seq bigint NOT NULL,
            last_hash char(64) NOT NULL,
            signed_at timestamptz NOT NULL,
            key_id text NOT NULL,
            signature char(128) NOT NULL,
            PRIMARY KEY (tenant_code, day)
        )""",
        f"""CREATE TABLE {t} (
            tenant_code text PRIMARY KEY,
            seq bigint NOT NULL,
            hash char(64) NOT NULL
        )""",
    ]
    for table in (r, h):
        out += tenant_rls_statements(table, app_role=app_role)
    out += tenant_rls_statements(t, app_role=app_role, extra_read=tips_extra_read)
    out += [f"REVOKE UPDATE, DELETE ON {r}, {h} FROM {app_role}", f"REVOKE DELETE ON {t} FROM {app_role}"]
    return out


class _Rows(Protocol):
    def row(self, statement: Any, params: dict[str, Any] | None = None) -> tuple | None: ...
    def rows(self, statement: Any, params: dict[str, Any] | None = None) -> list[tuple]: ...
    def execute(self, statement: Any, params: dict[str, Any] | None = None) -> int: ...


def append(uow: _Rows, schema: str, tenant: str, kind: str, ref: str, body: str, recorded_at: dt.datetime,
           prefix: str = "chain") -> ChainRecord | None:
    """Append one record to the tenant's chain in the caller's transaction (bound to `tenant`); None when
    `ref` is already in the chain (a redelivered event)."""
    from shared.db import sql

    p = f"{schema}.{prefix}"
    # a unit of work that keeps what its transaction holds (`held`, emptied when it ends) remembers the tip it
    # locked: the chain's next record in the same transaction (a consumer's run of events, a delivery pass) is one
    # round trip, the record and the tip together, its redelivery check the records' own UNIQUE (tenant, ref)
    held: dict | None = getattr(uow, "held", None)
    key = ("chain-tip", p, tenant)
    if held is not None and key in held:
        tip_seq, tip_hash = held[key]
        record = link(tenant, tip_seq, tip_hash, kind, ref, body, recorded_at)
        written = uow.row(sql(
            f"WITH r AS (INSERT INTO {p}_records (tenant_code, seq, kind, ref, body, recorded_at, prev_hash, hash)"
            " VALUES (:t, :seq, :kind, :ref, :body, :at, :prev, :hash) ON CONFLICT (tenant_code, ref) DO NOTHING"
            f" RETURNING seq) UPDATE {p}_tips SET seq = :seq, hash = :hash WHERE tenant_code = :t"
            " AND EXISTS (SELECT 1 FROM r) RETURNING seq"),
            {"t": tenant, "seq": record.seq, "kind": kind, "ref": ref, "body": body, "at": recorded_at,
             "prev": record.prev_hash, "hash": record.hash})
        if written is None:
            return None         # already in the chain; the tip stays where it was
        held[key] = (record.seq, record.hash)
        return record
    # otherwise two round trips: the tip locked with the redelivery check, then the record and the new tip in one
    # statement (the tenant's first record inserts its tip row first)
    lock = sql(f"SELECT t.seq, t.hash, EXISTS (SELECT 1 FROM {p}_records r WHERE r.tenant_code = :t AND r.ref = :ref)"
               f" FROM {p}_tips t WHERE t.tenant_code = :t FOR UPDATE OF t")
    tip = uow.row(lock, {"t": tenant, "ref": ref})
    if tip is None:
        uow.execute(sql(f"INSERT INTO {p}_tips (tenant_code, seq, hash) VALUES (:t, 0, :g) ON CONFLICT DO NOTHING"),
                    {"t": tenant, "g": GENESIS})
        tip = uow.row(lock, {"t": tenant, "ref": ref})
        assert tip is not None
    if tip[2]:
        if held is not None:
            held[key] = (int(tip[0]), tip[1])
        return None
    record = link(tenant, int(tip[0]), tip[1], kind, ref, body, recorded_at)
    uow.execute(sql(f"WITH r AS (INSERT INTO {p}_records (tenant_code, seq, kind, ref, body, recorded_at, prev_hash,"
                    " hash) VALUES (:t, :seq, :kind, :ref, :body, :at, :prev, :hash))"
                    f" UPDATE {p}_tips SET seq = :seq, hash = :hash WHERE tenant_code = :t"),
                {"t": tenant, "seq": record.seq, "kind": kind, "ref": ref, "body": body, "at": recorded_at,
                 "prev": record.prev_hash, "hash": record.hash})
    if held is not None:
        held[key] = (record.seq, record.hash)
    return record


def load_records(uow: _Rows, schema: str, tenant: str, prefix: str = "chain",
                 batch: int = 5000) -> Iterator[ChainRecord]:
    """The tenant's records in `seq` order, read in batches (keyset on seq)."""
    from shared.db import sql

    after = 0
    while True:
        rows = uow.rows(sql(f"SELECT seq, kind, ref, body, recorded_at, prev_hash, hash FROM {schema}.{prefix}_records"
                            " WHERE tenant_code = :t AND seq > :after ORDER BY seq LIMIT :n"),
                        {"t": tenant, "after": after, "n": batch})
        for seq, kind, ref, body, at, prev, h in rows:
            yield ChainRecord(tenant, int(seq), kind, ref, body, at, prev, h)
        if len(rows) < batch:
            return
        after = int(rows[-1][0])


def load_heads(uow: _Rows, schema: str, tenant: str, prefix: str = "chain") -> list[ChainHead]:
    from shared.db import sql

    rows = uow.rows(sql(f"SELECT day, last_seq, last_hash, signed_at, key_id, signature FROM {schema}.{prefix}_heads"
                        " WHERE tenant_code = :t ORDER BY last_seq"), {"t": tenant})
    return [ChainHead(tenant, d, int(s), lh, sa, k, sig) for d, s, lh, sa, k, sig in rows]


def seal_days(uow: _Rows, schema: str, tenant: str, signer: HeadSigner, today: dt.date, signed_at: dt.datetime,
              prefix: str = "chain") -> list[ChainHead]:
    """Sign the heads of the tenant's days before `today` that have records and no head yet: each head is
    the last record of that day (Beijing time). Run by a service's daily sweep; idempotent."""
    from shared.db import sql

    p = f"{schema}.{prefix}"
    last_signed = uow.row(sql(f"SELECT day, last_seq FROM {p}_heads WHERE tenant_code = :t ORDER BY day DESC LIMIT 1"),
                          {"t": tenant})
    after = int(last_signed[1]) if last_signed else 0
    rows = uow.rows(sql(
        f"SELECT DISTINCT ON ((recorded_at AT TIME ZONE 'Asia/Shanghai')::date)"
        f" (recorded_at AT TIME ZONE 'Asia/Shanghai')::date AS day, seq, hash FROM {p}_records"
        " WHERE tenant_code = :t AND seq > :after AND (recorded_at AT TIME ZONE 'Asia/Shanghai')::date < :today"
        " ORDER BY (recorded_at AT TIME ZONE 'Asia/Shanghai')::date, seq DESC"), {"t": tenant, "after": after,
                                                                                    "today": today})
    heads = []
    for day, seq, h in rows:
        if last_signed and day <= last_signed[0]:
            continue
        head = sign_head(signer, tenant, day, int(seq), h, signed_at)
        uow.execute(sql(f"INSERT INTO {p}_heads (tenant_code, day, last_seq, last_hash, signed_at, key_id, signature)"
                        " VALUES (:t, :day, :seq, :hash, :at, :kid, :sig) ON CONFLICT DO NOTHING"),
                    {"t": tenant, "day": day, "seq": head.last_seq, "hash": head.last_hash, "at": signed_at,
                     "kid": head.key_id, "sig": head.signature})
        heads.append(head)
    return heads


def verify_stored(uow: _Rows, schema: str, tenant: str, public_keys: dict[str, str],
                  prefix: str = "chain") -> Verdict:
    """Verify the tenant's stored chain (the `verify` command and endpoint)."""
    return verify_chain(tenant, load_records(uow, schema, tenant, prefix), load_heads(uow, schema, tenant, prefix),
                        public_keys)


__all__ = [
    "GENESIS", "DEV_CHAIN_PRIVATE_KEY", "DEV_CHAIN_PUBLIC_KEY", "HeadSigner", "ChainRecord", "ChainHead",
    "Finding", "Verdict", "sm3_hex", "key_id", "public_key_of", "verify_signature", "canonical_record",
    "record_hash", "link", "canonical_head", "sign_head", "local_day", "verify_chain", "chain_tables_statements",
    "append", "load_records", "load_heads", "seal_days", "verify_stored",
]
