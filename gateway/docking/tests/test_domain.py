"""The docking rules without I/O: the province's envelope shape and routes, the ±5 minute window, backoff, the
per-province 同 elements (三级四同 / 三级十同) and the reconciliation of counts and hashes."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.docking import domain
from gateway.docking.domain import Refusal

NOW = dt.datetime(2026, 9, 30, 2, 0, tzinfo=dt.UTC)


def envelope(**kw):
    msg = {"message_id": "0b7c6a3e-0a0f-4a5e-9a51-5a6e2f1d0c18", "type": "online_application",
           "sender": "province:62", "receiver": "county:620602", "tenant": "620602", "case_ref": "",
           "timestamp": NOW.isoformat(), "nonce": "ab" * 16, "body": {}, "key_id": "k", "signature": "s"}
    msg.update(kw)
    return msg


def test_a_good_envelope_passes():
    assert domain.check_inbound_shape(envelope())["tenant"] == "620602"


@pytest.mark.parametrize("change, reason", [
    ({"type": "case_report"}, "route"), ({"sender": "county:620602"}, "bad_sender"),
    ({"tenant": "513221", "receiver": "county:513221"}, "tenant"), ({"receiver": "county:620621"}, "tenant"),
    ({"tenant": "620602001"}, "malformed"), ({"nonce": "short"}, "malformed"), ({"body": []}, "malformed"),
    ({"message_id": "x"}, "malformed"), ({"extra": "1"}, "malformed"), ({"timestamp": 5}, "malformed"),
])
def test_what_the_province_may_not_send(change, reason):
    with pytest.raises(Refusal) as e:
        domain.check_inbound_shape(envelope(**change))
    assert e.value.reason == reason


def test_a_missing_field_is_named():
    msg = envelope()
    del msg["nonce"]
    with pytest.raises(Refusal, match="nonce"):
        domain.check_inbound_shape(msg)


@pytest.mark.parametrize("offset, ok", [(0, True), (299, True), (-299, True), (301, False), (-301, False)])
def test_five_minutes_either_way(offset, ok):
    stamp = (NOW + dt.timedelta(seconds=offset)).isoformat()
    if ok:
        domain.check_fresh(stamp, NOW)
    else:
        with pytest.raises(Refusal) as e:
            domain.check_fresh(stamp, NOW)
        assert e.value.reason == "stale"


def test_a_timestamp_without_its_zone_is_refused():
    with pytest.raises(Refusal):
        domain.check_fresh("2026-09-30T10:00:00", NOW)


def test_backoff_doubles_up_to_its_cap():
    waits = [(domain.next_attempt(n, NOW) - NOW).total_seconds() for n in range(1, 12)]
    assert waits[:4] == [1, 2, 4, 8] and max(waits) == 300 and waits == sorted(waits)


STANDARD = {"name": "个体工商户设立登记", "basic_code": "000103001000", "item_type": "01", "legal_basis": "条例第八条",
            "exercise_level": "4", "acceptance_conditions": "有经营能力", "targets": ["natural_person"],
            "statutory_limit_days": 3, "promised_limit_days": 1,
            "scenarios": [{"materials": [{"name": "申请书"}, {"name": "身份证"}]}],
            "fees": []}


def test_ten_same_flags_a_time_limit_four_same_does_not():
    county = {**STANDARD, "promised_limit_days": 2, "id": "x"}
    gansu = domain.compare_catalogue([STANDARD], [county], domain.same_elements("62"))
    sichuan = domain.compare_catalogue([STANDARD], [county], domain.same_elements("51"))
    assert [d.element for d in gansu[0].differences] == ["limits"]
    assert sichuan[0].differences == [] and sichuan[0].county_item_id == "x"


def test_materials_compare_as_a_set_and_names_ignore_spacing():
    county = {**STANDARD, "name": "个体工商户 设立登记", "id": "x",
              "scenarios": [{"materials": [{"name": "身份证"}]}, {"materials": [{"name": "申请书"}]}]}
    assert domain.compare_catalogue([STANDARD], [county], domain.TEN_SAME)[0].differences == []
    fewer = {**county, "scenarios": [{"materials": [{"name": "申请书"}]}]}
    [d] = domain.compare_catalogue([STANDARD], [fewer], domain.TEN_SAME)[0].differences
    assert d.element == "materials" and d.label == "申请材料"


def test_a_standard_item_the_county_lacks_is_missing():
    [c] = domain.compare_catalogue([STANDARD], [], domain.TEN_SAME)
    assert c.county_item_id == "" and c.differences == []


def test_reconcile_counts_and_hashes_per_type():
    ours = {"a": "case_decided", "b": "case_decided", "c": "fees_settled"}
    theirs = {"a": "case_decided", "c": "fees_settled", "z": "fees_settled"}
    r = domain.reconcile("2026-09-30", "620602", ours, theirs, lambda ids: ",".join(ids))
    by = {t.message_type: t for t in r.types}
    assert (by["case_decided"].ours, by["case_decided"].theirs, by["case_decided"].matches) == (2, 1, False)
    assert by["fees_settled"].our_hash == "c" and by["fees_settled"].their_hash == "c,z"
    assert r.missing_at_province == ["b"] and r.unknown_to_us == ["z"]
    assert domain.reconcile("d", "t", ours, ours, str).types[0].matches


def test_progress_codes_are_data_per_province():
    gansu = domain.province_progress_codes([(c, c) for c in ("1", "3", "4", "6", "8", "9", "10", "11")])
    assert domain.progress_code("application_accepted", gansu) == "3"
    assert domain.progress_code("clock_suspended", gansu) == "9"
    assert domain.progress_code("case_completed", gansu) == "11"
    assert domain.progress_code("application_rejected") == "4"      # no table: the documented default
    other = domain.province_progress_codes([("0301", "3"), ("0302", "3"), ("1101", "11")])
    assert domain.progress_code("application_accepted", other) == "0301"
    assert domain.progress_code("result_picked_up", other) == "1101"
    assert domain.progress_code("clock_suspended", other) == "9"     # not in its table: the internal code
    assert domain.progress_code("item_published", other) == ""
