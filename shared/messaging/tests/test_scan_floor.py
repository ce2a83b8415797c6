"""Where the relay's claim starts scanning the outbox (issue 22): below the floor every row is sent, and the
floor never passes a row whose writer is still running. The rule alone, then the relay against the real
PostgreSQL and RabbitMQ with a writer that commits late."""

from __future__ import annotations

from sanji.catalogue.v1.events_pb2 import ItemPublished

from shared.messaging.relay import ScanFloor
from shared.messaging.tests import TENANT, open_bus, wait_until


# -- the rule ------------------------------------------------------------------------------------
def claim(floor: ScanFloor, *, xmin: int, xmax: int, high: int, complete: bool = True, aside=(), now: float = 1.0):
    started = floor.start(now)
    floor.claimed(started=started, now=now, xmin=xmin, xmax=xmax, high=high, complete=complete, aside=list(aside))
    return started


def test_the_first_claim_scans_everything_and_the_floor_moves_once_the_writers_seen_have_ended():
    floor = ScanFloor(full_scan_seconds=60)
    assert claim(floor, xmin=100, xmax=105, high=40) == 0          # nothing known yet: from 0
    assert floor.value == 0                                          # seen, not yet ripe
    assert claim(floor, xmin=104, xmax=110, high=50) == 0 and floor.value == 0   # xid 104 may still write ≤ 40
    claim(floor, xmin=105, xmax=112, high=55)                        # every xid < 105 has ended: rows ≤ 40 are in
    assert floor.value == 41
    assert claim(floor, xmin=112, xmax=113, high=60) == 41           # the next claim starts there
    assert floor.value == 56


def test_a_full_batch_or_a_row_set_aside_holds_the_floor_back():
    floor = ScanFloor(full_scan_seconds=60)
    claim(floor, xmin=10, xmax=11, high=30)
    claim(floor, xmin=11, xmax=12, high=35, complete=False)          # a full batch: rows above may wait
    assert floor.value == 0
    claim(floor, xmin=12, xmax=13, high=35, aside=[7, 20])            # ripe, but seq 7 is owed another try
    assert floor.value == 7


def test_a_reset_or_the_full_scan_interval_scans_from_zero_again():
    floor = ScanFloor(full_scan_seconds=5)
    claim(floor, xmin=1, xmax=2, high=9, now=0.0)
    claim(floor, xmin=2, xmax=3, high=9, now=0.2)
    assert floor.value == 10
    assert claim(floor, xmin=3, xmax=4, high=9, now=1.0) == 10
    assert claim(floor, xmin=3, xmax=4, high=9, now=5.3) == 0        # the periodic scan from 0 (last at 0.2)
    assert claim(floor, xmin=3, xmax=4, high=9, now=5.4) == 10
    floor.reset()                                                      # a batch went back unsent
    assert (floor.value, floor.start(5.5)) == (0, 0)


def test_a_partial_full_scan_is_continued_before_the_floor_is_used_again():
    floor = ScanFloor(full_scan_seconds=5)
    claim(floor, xmin=1, xmax=2, high=9, now=0.0)
    claim(floor, xmin=2, xmax=3, high=9, now=0.2)
    assert claim(floor, xmin=3, xmax=4, high=9, complete=False, now=6.0) == 0
    assert claim(floor, xmin=3, xmax=4, high=9, now=6.1) == 0          # still due: the scan from 0 goes on
    assert claim(floor, xmin=3, xmax=4, high=9, now=6.2) == 10


# -- the relay -----------------------------------------------------------------------------------
def test_a_writer_that_commits_late_is_published_though_later_rows_went_first(test_settings):
    """A transaction draws its outbox seq, then waits; later events commit and are published, and the floor
    follows them but stops below the waiting row. With the periodic scan from 0 out of reach (an hour), the
    late row is published only because the floor never passed it."""
    with open_bus(test_settings) as bus:
        probe = bus.plain_queue()
        relay = bus.relay(batch_size=50, idle_seconds=0.05)
        relay.floor.full_scan_seconds = 3600
        bus.emit(5, start=0)
        relay.start()
        wait_until(lambda: bus.unsent() == 0, message="the first events sent")
        with bus.db.unit_of_work(tenant=TENANT) as late:
            late.emit(ItemPublished(item_id="item-late", version=1, tenant=TENANT, name="迟到的事项"))
            [late_id] = late.write_outbox()
            late_seq = late.value(f"SELECT seq FROM {bus.schema}.outbox WHERE id = :id", {"id": str(late_id)})
            for n in range(4):
                bus.emit(3, start=10 + 3 * n)
            # (the late row is not committed: nobody else sees it, unsent or not)
            wait_until(lambda: bus.unsent() == 0, message="the later events sent while the late one is open")
            high = bus.scalar("SELECT max(seq) FROM {s}.outbox")
            assert high > late_seq
            wait_until(lambda: relay.floor.value > 0, message="the floor moved over the first events")
            for _ in range(5):                       # ticks that see the later rows and every writer but one end
                bus.emit(1, start=99)
            wait_until(lambda: bus.unsent() == 0, message="those sent too")
            assert relay.floor.value <= late_seq      # never past a row whose writer is still running
            late.commit()
        wait_until(lambda: bus.unsent() == 0, message="the late event sent")
        wait_until(lambda: relay.floor.value > late_seq, message="the floor past it once it is in")
        wait_until(lambda: bus.message_count(probe) == 5 + 12 + 5 + 1, message="every event in the probe queue")
        relay.stop()


def test_the_relay_view_is_prepared_once_per_connection_and_survives_a_deallocate(test_settings):
    """The relay's first statement of every tick runs as a statement prepared on its connection (planned once,
    not on every tick); if something deallocates it (psycopg's DEALLOCATE ALL after its own rollback), the next
    tick prepares it again; and a process that forgot it had prepared it takes the server's copy."""
    from shared.messaging import relay as relay_module

    with open_bus(test_settings) as bus:
        bus.emit(3, start=0)
        high = bus.scalar("SELECT max(seq) FROM {s}.outbox")
        pooled = bus.db.engine.raw_connection()
        raw = pooled.driver_connection
        name = relay_module._relay_view_name(bus.schema)
        try:
            def prepared() -> list[str]:
                relay_module.end_transaction(raw)
                return [r[0] for r in raw.execute("SELECT name FROM pg_prepared_statements WHERE name = %s",
                                                  (name,))]

            for _ in range(3):
                xmin, xmax, seen = relay_module._begin_relay_view(raw, bus.schema)
                assert seen == high and 0 < xmin <= xmax
                assert raw.execute("SELECT current_setting('app.relay', true)").fetchone()[0] == "on"
            assert prepared() == [name]
            raw.execute("DEALLOCATE ALL")
            assert relay_module._begin_relay_view(raw, bus.schema)[2] == high       # prepared again
            assert prepared() == [name]
            relay_module.prepared_on(raw).discard(name)                              # this process forgot it
            assert relay_module._begin_relay_view(raw, bus.schema)[2] == high
            assert prepared() == [name]
        finally:
            relay_module.end_transaction(raw)
            pooled.close()
