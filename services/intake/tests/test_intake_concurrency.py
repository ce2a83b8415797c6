"""The intake under concurrent calls: case numbers drawn without gaps or repeats, one application per key."""

from __future__ import annotations

import threading

import grpc
from sanji.intake.v1 import intake_pb2 as pb

from services.intake.tests.conftest import (
    TOWNSHIP,
    outbox,
    rows_with_key,
    submit_request,
)

CODE = grpc.StatusCode


# -- concurrency ----------------------------------------------------------------------------------------------
def test_fifty_clerks_accepting_at_once_get_fifty_consecutive_case_numbers(as_user, catalogue_items, intake_stub,
                                                                          tokens, today):
    county = as_user("county.clerk")
    apps = [county.SubmitApplication(submit_request(catalogue_items["county"])) for _ in range(50)]
    md = (("authorization", f"Bearer {tokens['county.clerk']}"),)
    barrier = threading.Barrier(50)
    numbers: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def accept(app_id: str) -> None:
        barrier.wait()
        try:
            r = intake_stub.AcceptApplication(pb.AcceptApplicationRequest(application_id=app_id), metadata=md,
                                              timeout=60)
            with lock:
                numbers.append(r.case_number)
        except BaseException as exc:  # noqa: BLE001 — collected and asserted below
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=accept, args=(a.id,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert len(numbers) == len(set(numbers)) == 50
    seqs = sorted(int(n[-6:]) for n in numbers)
    assert seqs == list(range(seqs[0], seqs[0] + 50))
    assert all(n[:20] == "62060200000020260302" for n in numbers)


def test_the_same_key_sent_twice_at_once_makes_one_application(clerk, township_item, intake_db, today):
    req = submit_request(township_item)
    barrier = threading.Barrier(4)
    ids: list[str] = []

    def send() -> None:
        barrier.wait()
        ids.append(clerk.SubmitApplication(req).id)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 4 and len(set(ids)) == 1
    assert rows_with_key(intake_db, TOWNSHIP, req.idempotency_key) == 1
    assert [e[0] for e in outbox(intake_db, ids[0])] == ["application_submitted"]
