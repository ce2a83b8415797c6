"""The hash chain's rules without a database: links, heads, and each kind of tampering named."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from shared import hashchain as hc
from shared.clock import CHINA_TZ

T = "620602"
SIGNER = hc.HeadSigner(hc.DEV_CHAIN_PRIVATE_KEY, hc.DEV_CHAIN_PUBLIC_KEY)
KEYS = {SIGNER.key_id: hc.DEV_CHAIN_PUBLIC_KEY}


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, 0, tzinfo=CHINA_TZ)


def chain(n: int = 6) -> list[hc.ChainRecord]:
    out, seq, tip = [], 0, hc.GENESIS
    for i in range(n):
        body = f'{{"n": {i}, "名": "张三"}}'
        r = hc.link(T, seq, tip, "application_accepted", f"ev-{i}", body, at(8 + i // 3, 9 + i))
        out.append(r)
        seq, tip = r.seq, r.hash
    return out


def renumber(records: list[hc.ChainRecord]) -> list[hc.ChainRecord]:
    return [dataclasses.replace(r, seq=i + 1) for i, r in enumerate(records)]


def test_an_untouched_chain_verifies_with_its_heads():
    records = chain()
    head = hc.sign_head(SIGNER, T, dt.date(2026, 10, 8), 3, records[2].hash, at(9, 0))
    v = hc.verify_chain(T, records, [head], KEYS)
    assert v.ok and v.records_checked == 6 and v.heads_checked == 1 and v.last_hash == records[-1].hash
    assert records[0].prev_hash == hc.GENESIS and records[1].prev_hash == records[0].hash


def test_an_altered_body_is_named():
    records = chain()
    records[3] = dataclasses.replace(records[3], body='{"n": 3, "名": "李四"}')
    v = hc.verify_chain(T, records, [], KEYS)
    assert v.finding.kind == "altered" and v.finding.seq == 4 and v.finding.ref == "ev-3"
    assert "篡改" in v.finding.text


def test_an_altered_time_is_named():
    records = chain()
    records[1] = dataclasses.replace(records[1], recorded_at=records[1].recorded_at + dt.timedelta(seconds=1))
    assert hc.verify_chain(T, records, [], KEYS).finding.kind == "altered"


def test_a_deleted_record_is_named_with_or_without_renumbering():
    records = chain()
    gap = records[:2] + records[3:]
    v = hc.verify_chain(T, gap, [], KEYS)
    assert v.finding.kind == "deleted" and v.finding.seq == 4
    v = hc.verify_chain(T, renumber(gap), [], KEYS)
    assert v.finding.kind == "deleted" and v.finding.ref == "ev-3"


def test_a_deleted_tail_is_caught_by_the_signed_head():
    records = chain()
    head = hc.sign_head(SIGNER, T, dt.date(2026, 10, 9), 6, records[5].hash, at(10, 0))
    v = hc.verify_chain(T, records[:5], [head], KEYS)
    assert v.finding.kind == "deleted" and v.finding.seq == 6


def test_an_inserted_record_is_named_whether_it_links_or_not():
    records = chain()
    forged = hc.link(T, 2, records[1].hash, "case_decided", "forged", "{}", at(8, 12))
    v = hc.verify_chain(T, renumber(records[:2] + [forged] + records[2:]), [], KEYS)
    assert v.finding.kind == "inserted" and v.finding.ref == "forged"
    loose = hc.link(T, 2, "f" * 64, "case_decided", "loose", "{}", at(8, 12))
    v = hc.verify_chain(T, renumber(records[:2] + [loose] + records[2:]), [], KEYS)
    assert v.finding.kind == "inserted" and v.finding.ref == "loose"


def test_a_record_appended_into_a_sealed_day_is_inserted():
    records = chain(3)
    head = hc.sign_head(SIGNER, T, dt.date(2026, 10, 8), 3, records[2].hash, at(9, 0))
    late = hc.link(T, 3, records[2].hash, "case_decided", "late", "{}", at(8, 23))
    v = hc.verify_chain(T, records + [late], [head], KEYS)
    assert v.finding.kind == "inserted" and v.finding.ref == "late"
    fine = hc.link(T, 3, records[2].hash, "case_decided", "next-day", "{}", at(9, 8))
    assert hc.verify_chain(T, records + [fine], [head], KEYS).ok


def test_a_head_with_a_bad_signature_or_unknown_key_is_refused():
    records = chain()
    head = hc.sign_head(SIGNER, T, dt.date(2026, 10, 8), 3, records[2].hash, at(9, 0))
    forged = dataclasses.replace(head, last_hash=records[1].hash)
    assert hc.verify_chain(T, records, [forged], KEYS).finding.kind == "head_signature"
    other = hc.HeadSigner(*_pair())
    assert hc.verify_chain(T, records, [hc.sign_head(other, T, head.day, 3, records[2].hash, at(9, 0))],
                           KEYS).finding.kind == "head_signature"


def test_a_head_over_a_different_record_is_a_mismatch():
    records = chain()
    head = hc.sign_head(SIGNER, T, dt.date(2026, 10, 8), 3, records[1].hash, at(9, 0))
    assert hc.verify_chain(T, records, [head], KEYS).finding.kind == "head_mismatch"


def test_keys_are_checked():
    with pytest.raises(ValueError):
        hc.HeadSigner(hc.DEV_CHAIN_PRIVATE_KEY, "00" * 64)
    with pytest.raises(ValueError):
        hc.HeadSigner("xyz", hc.DEV_CHAIN_PUBLIC_KEY)
    with pytest.raises(ValueError):
        hc.canonical_record(T, hc.GENESIS, "k", "r", "b", dt.datetime(2026, 1, 1))


def _pair() -> tuple[str, str]:
    priv = "1" * 63 + "7"
    return priv, hc.public_key_of(priv)
