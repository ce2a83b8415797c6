"""The province records as the services read them (shared/provinces.py) through the real catalogue: per province,
never one province's for another's units, the defaults without a record, the last answer while the catalogue is
down and 503 without one, and a change read again once the cache time has passed."""

from __future__ import annotations

import pytest

from services.catalogue.province_handlers import ProvinceHandlers
from shared.errors import InvalidArgument, Unavailable
from shared.grpc.provinces import GrpcProvinces
from shared.provinces import ProvinceBook, ProvinceRef
from shared.tenancy import DivisionCode, Principal, Role

GANSU_ADMIN = Principal(subject="test:gansu-admin", username="gansu.admin", tenant=DivisionCode("62"),
                        roles=frozenset({str(Role.TENANT_ADMIN)}))


class Tick:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def source(catalogue_server):
    s = GrpcProvinces(catalogue_server)
    yield s
    s.close()


def test_each_tenant_reads_its_own_provinces_record_and_a_change_after_the_cache_time(source, catalogue_db):
    provinces = ProvinceHandlers(catalogue_db)
    gansu = provinces.get("62")
    tick = Tick()
    book = ProvinceBook(source, ttl=30, monotonic=tick)
    assert book.get("620602001") == ProvinceRef("62", gansu.calendar_region, gansu.payment_key_ref)
    assert book.get("513221").tenant_code == "51" and book.get("51").tenant_code == "51"
    assert book.get("990101") is None and book.calendar_region("990101") == "99"    # no record: its own code
    try:
        provinces.put(GANSU_ADMIN, "62", {"name": gansu.name, "calendar_region": gansu.calendar_region,
                                          "payment_key_ref": "gansu-test-rotated"})
        assert book.get("620602").payment_key_ref == gansu.payment_key_ref             # cached
        tick.t += 31
        assert book.get("620602").payment_key_ref == "gansu-test-rotated"
        assert book.get("513221").payment_key_ref != "gansu-test-rotated"               # Sichuan's is its own
    finally:
        provinces.put(GANSU_ADMIN, "62", {"name": gansu.name, "calendar_region": gansu.calendar_region,
                                          "payment_key_ref": gansu.payment_key_ref, "n_tong": list(gansu.n_tong),
                                          "complaint_working_days": gansu.complaint_working_days,
                                          "rectification_days": gansu.rectification_days})


def test_the_catalogue_down_keeps_the_last_answer_and_without_one_is_a_503(source):
    tick = Tick()
    book = ProvinceBook(source, ttl=30, monotonic=tick)
    known = book.get("620602")
    down = GrpcProvinces("127.0.0.1:9", timeout=2.0)     # nothing listens there: the catalogue unreachable
    try:
        book.source = down
        tick.t += 31
        assert book.get("620602") == known
        with pytest.raises(Unavailable):
            book.get("513221")                            # never asked before: no guess
    finally:
        down.close()


def test_a_record_answered_for_another_province_is_never_used():
    class Wrong:                                          # a catalogue answering Sichuan's record for Gansu
        def province(self, code: str) -> ProvinceRef | None:
            return ProvinceRef("51", "51", "sichuan-pay")

    with pytest.raises(Unavailable):
        ProvinceBook(Wrong()).get("620602")


@pytest.mark.parametrize("bad", ["", "6", "ab0101", " ", "６２"])
def test_a_tenant_code_that_names_no_province_is_refused(bad):
    class Never:
        def province(self, code: str) -> ProvinceRef | None:
            raise AssertionError("not asked")

    with pytest.raises(InvalidArgument):
        ProvinceBook(Never()).get(bad)
