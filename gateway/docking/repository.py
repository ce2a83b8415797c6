"""Persistence of the docking schema, on the caller's unit of work (never commits): the message log (a
shared.hashchain chain per county, prefix `log`), nonces, refusals, the outbound reports, online
applications and reconciliation reports."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from shared import hashchain
from shared.db import RlsScope, UnitOfWork, sql

S = "docking"
LOG = "log"
# the delivery worker lists the counties that have reports due (only their codes) across tenants
DELIVERY_SWEEP = RlsScope("docking delivery sweep", {"on": "app.docking_sweep"})
# 委托收件: a transaction bound to the deciding unit (e.g. the province) files a report of its case under the window
# that collected it (docking 0003: only a window inside the bound unit's subtree)
COLLECTED_FILING = RlsScope("docking report filed under the collecting window", {"window": "app.docking_collect"})
# a unit below a county (a township, a village) files its reports under its county, the one that talks to the
# province, reading the serial kept there (docking 0004)
COUNTY_FILING = RlsScope("docking report filed under the unit's county", {"on": "app.docking_county"})


# The delivery worker's pass. "First" is a correlated probe of the pending index (tenant, case, stage, event time,
# seq) per candidate, which PostgreSQL runs as an index probe with or without statistics. The earlier NOT EXISTS form
# was planned, on a table not yet analyzed, as a nested loop over every pending row of the tenant for every pending
# row (the lifecycle bench: 475 pending reports, 140,000 buffers and 600 ms a call; the probe 1,900 and 10 ms). The
# pending reports have that one index to be found by (migration 0008: outbound_delivered holds delivered ones only);
# before it, the probe could take outbound_delivered too and read the county's whole backlog each time.
DUE_HEADS = sql(
    "SELECT o.seq, o.message_id::text AS message_id, o.case_key, o.type, o.body, o.attempts"
    f" FROM {S}.outbound o"
    " WHERE o.tenant_code = :t AND o.delivered_at IS NULL AND o.next_attempt_at <= :now"
    " AND o.created_at <= :settled AND o.seq = ("
    f"  SELECT e.seq FROM {S}.outbound e WHERE e.tenant_code = o.tenant_code AND e.case_key = o.case_key"
    "   AND e.delivered_at IS NULL ORDER BY e.stage, e.event_at, e.seq LIMIT 1)"
    " ORDER BY o.seq LIMIT :n FOR UPDATE SKIP LOCKED")


class DockingRepository:
    def __init__(self, uow: UnitOfWork):
        self.u = uow

    # -- replay protection ---------------------------------------------------------------------------
    def take_nonce(self, sender: str, nonce: str) -> bool:
        """True the first time (sender, nonce) is seen; False for a replay."""
        return bool(self.u.rows(sql(f"INSERT INTO {S}.nonces (sender, nonce) VALUES (:s, :n) ON CONFLICT DO NOTHING"
                                    " RETURNING 1"), {"s": sender, "n": nonce}))

    def forget_nonces_before(self, before: dt.datetime) -> int:
        return self.u.execute(sql(f"DELETE FROM {S}.nonces WHERE seen_at < :b"), {"b": before})

    def count_refusal(self, minute: dt.datetime) -> int:
        """One more refused message in this minute; how many there have been in it, this one included."""
        return self.u.value(sql(
            f"INSERT INTO {S}.refusal_minutes AS m (minute, seen) VALUES (:m, 1)"
            " ON CONFLICT (minute) DO UPDATE SET seen = m.seen + 1 RETURNING seen"), {"m": minute})

    def refuse(self, reason: str, sender: str, tenant: str, message_id: str, body_sm3: str, body_bytes: int,
               minute: dt.datetime) -> None:
        """A refused message stored (its minute's count of stored ones goes up)."""
        self.u.execute(sql(f"UPDATE {S}.refusal_minutes SET stored = stored + 1 WHERE minute = :m"), {"m": minute})
        self.u.execute(sql(f"INSERT INTO {S}.refusals (reason, claimed_sender, claimed_tenant, claimed_message_id,"
                           " body_sm3, body_bytes) VALUES (:r, :s, :t, :m, :h, :n)"),
                       {"r": reason, "s": sender[:64], "t": tenant[:16], "m": message_id[:64], "h": body_sm3,
                        "n": body_bytes})

    # -- the message log -----------------------------------------------------------------------------
    @staticmethod
    def log_ref(direction: str, message_id: str) -> str:
        return f"{direction}:{message_id}"

    def logged(self, tenant: str, direction: str, message_id: str) -> dict[str, Any] | None:
        found = self.u.row(sql(f"SELECT body FROM {S}.{LOG}_records WHERE tenant_code = :t AND ref = :r"),
                           {"t": tenant, "r": self.log_ref(direction, message_id)})
        return json.loads(found[0]) if found else None

    def log(self, tenant: str, direction: str, entry: dict[str, Any], at: dt.datetime) -> bool:
        """Append a message to the county's chain; False when it is there already."""
        body = json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        record = hashchain.append(self.u, S, tenant, f"{direction}:{entry['type']}",
                                  self.log_ref(direction, entry["message_id"]), body, at, prefix=LOG)
        return record is not None

    def verify_log(self, tenant: str, public_keys: dict[str, str]) -> hashchain.Verdict:
        return hashchain.verify_stored(self.u, S, tenant, public_keys, prefix=LOG)

    def seal_log(self, tenant: str, signer: hashchain.HeadSigner, today: dt.date, at: dt.datetime) -> int:
        return len(hashchain.seal_days(self.u, S, tenant, signer, today, at, prefix=LOG))

    def log_tenants(self) -> list[str]:
        return [r[0] for r in self.u.rows(sql(f"SELECT tenant_code FROM {S}.{LOG}_tips ORDER BY tenant_code"))]

    def delivered_on(self, tenant: str, start: dt.datetime, end: dt.datetime) -> dict[str, str]:
        """Message id → type of the reports the province acknowledged in [start, end)."""
        rows = self.u.rows(sql(f"SELECT message_id::text, type FROM {S}.outbound WHERE tenant_code = :t"
                               " AND delivered_at >= :a AND delivered_at < :b"), {"t": tenant, "a": start, "b": end})
        return {r[0]: r[1] for r in rows}

    # -- outbound reports ----------------------------------------------------------------------------
    def enqueue(self, message_id: uuid.UUID, tenant: str, case_key: str, type_: str, body: dict[str, Any],
                stage: int = 0, event_at: dt.datetime | None = None) -> bool:
        """A report for the province, with its order key in the case (its lifecycle stage, its event's own
        time); False when that message id is already queued (a redelivered event)."""
        return bool(self.u.rows(sql(
            f"INSERT INTO {S}.outbound (message_id, tenant_code, case_key, type, body, stage, event_at,"
            " linked_application) VALUES (:m, :t, :k, :ty, CAST(:b AS jsonb), :st, COALESCE(:at, now()), :la)"
            " ON CONFLICT (message_id) DO NOTHING RETURNING 1"),
            {"m": message_id, "t": tenant, "k": case_key, "ty": type_, "b": json.dumps(body, ensure_ascii=False),
             "st": stage, "at": event_at,
             # a report that ties an application to its case number (docking 0007: case_key_of_application)
             "la": str(body.get("application_id") or "") if body.get("case_number") else ""}))

    def rekey(self, tenant: str, old_keys: list[str], key: str, serial: str) -> int:
        """A case's pending reports queued under another of its keys (its application id before it had a case
        number, its case number before docking knew its provincial serial) move to its queue `key`, and carry
        the serial where it has one. Delivered ones stay as they went."""
        if not old_keys:
            return 0
        return self.u.execute(sql(
            f"UPDATE {S}.outbound SET case_key = :k, body = CASE WHEN :s = '' THEN body ELSE"
            " jsonb_set(body, '{provincial_serial}', to_jsonb(CAST(:s AS text))) END"
            " WHERE tenant_code = :t AND case_key = ANY(:old) AND delivered_at IS NULL"),
            {"t": tenant, "old": old_keys, "k": key, "s": serial})

    def case_key_of_application(self, tenant: str, application_id: str) -> str:
        """The queue of the case an application became, if a report tied them (its acceptance); ''."""
        found = self.u.row(sql(
            f"SELECT case_key FROM {S}.outbound WHERE tenant_code = :t AND linked_application = :a"
            " AND linked_application <> '' ORDER BY seq LIMIT 1"), {"t": tenant, "a": application_id})
        return found[0] if found else ""

    def tenants_due(self, now: dt.datetime) -> list[str]:
        self.u.widen(DELIVERY_SWEEP, on="on")
        return [r[0] for r in self.u.rows(sql(
            f"SELECT DISTINCT tenant_code FROM {S}.outbound WHERE delivered_at IS NULL AND next_attempt_at <= :now"),
            {"now": now})]

    def tenants_delivered(self, start: dt.datetime, end: dt.datetime) -> list[str]:
        """The counties whose reports the province acknowledged in [start, end) (for the daily run)."""
        self.u.widen(DELIVERY_SWEEP, on="on")
        return [r[0] for r in self.u.rows(sql(
            f"SELECT DISTINCT substr(tenant_code, 1, 6) FROM {S}.outbound WHERE delivered_at >= :a"
            " AND delivered_at < :b AND length(tenant_code) >= 6"), {"a": start, "b": end})]

    def due_heads(self, tenant: str, now: dt.datetime, limit: int,
                  settle: dt.timedelta = dt.timedelta(0)) -> list[dict[str, Any]]:
        """Per case, its first undelivered report in the case's order — (stage, event time, seq), domain.send_order
        — if it is due and has settled (queued at least `settle` ago, so that an earlier event of the case still
        being retried by the consumer can take its place): a case waits behind its own failed or settling report
        (order per case), never behind another case's (DUE_HEADS)."""
        return self.u.mappings(DUE_HEADS, {"t": tenant, "now": now, "settled": now - settle, "n": limit})

    def delivered(self, seq: int, at: dt.datetime) -> None:
        self.u.execute(sql(f"UPDATE {S}.outbound SET delivered_at = :at, attempts = attempts + 1, last_error = ''"
                           " WHERE seq = :s"), {"s": seq, "at": at})

    def failed(self, seq: int, error: str, retry_at: dt.datetime) -> None:
        self.u.execute(sql(f"UPDATE {S}.outbound SET attempts = attempts + 1, last_error = :e, next_attempt_at = :r"
                           " WHERE seq = :s"), {"s": seq, "e": error[:500], "r": retry_at})

    def resend(self, tenant: str, message_ids: list[str], now: dt.datetime) -> int:
        if not message_ids:
            return 0
        return self.u.execute(sql(f"UPDATE {S}.outbound SET delivered_at = NULL, next_attempt_at = :now"
                                  " WHERE tenant_code = :t AND message_id::text = ANY(:ids)"),
                              {"t": tenant, "ids": message_ids, "now": now})

    def backlog(self, now: dt.datetime) -> list[dict[str, Any]]:
        """Per tenant visible to this transaction: pending reports, the oldest one's age, how many failed."""
        return self.u.mappings(sql(
            f"SELECT tenant_code AS tenant, count(*) AS pending, EXTRACT(EPOCH FROM (:now - min(created_at)))::bigint"
            " AS oldest_age_seconds, count(*) FILTER (WHERE attempts > 0) AS failing"
            f" FROM {S}.outbound WHERE delivered_at IS NULL GROUP BY tenant_code ORDER BY tenant_code"), {"now": now})

    # -- online applications -------------------------------------------------------------------------
    def record_online(self, tenant: str, serial: str, message_id: str, unit: str, item_id: str) -> bool:
        return bool(self.u.rows(sql(
            f"INSERT INTO {S}.online_applications (tenant_code, provincial_serial, message_id, unit_code, item_id,"
            " status) VALUES (:t, :s, :m, :u, :i, 'received') ON CONFLICT DO NOTHING RETURNING 1"),
            {"t": tenant, "s": serial, "m": message_id, "u": unit, "i": item_id}))

    def online(self, tenant: str, serial: str) -> dict[str, Any] | None:
        return self.u.mapping(sql(f"SELECT * FROM {S}.online_applications WHERE tenant_code = :t"
                                  " AND provincial_serial = :s"), {"t": tenant, "s": serial})

    def forwarded(self, tenant: str, serial: str, application_id: str, error: str = "") -> None:
        self.u.execute(sql(f"UPDATE {S}.online_applications SET application_id = :a, error = :e,"
                           " status = CASE WHEN :a = '' THEN 'failed' ELSE 'forwarded' END"
                           " WHERE tenant_code = :t AND provincial_serial = :s"),
                       {"t": tenant, "s": serial, "a": application_id, "e": error[:500]})

    def serial_of(self, tenant: str, application_id: str, case_number: str) -> str:
        """The province's serial number of a county case that came in online ('' for a window case). An event that
        names both the application and its case number notes the number on the online application, in the same
        statement (a data-modifying WITH runs whether or not the query reads it; the lookup by application id
        finds the row either way): one statement for each of a case's reports, online or not (issue 22)."""
        found = self.u.row(sql(
            f"WITH noted AS (UPDATE {S}.online_applications SET case_number = :c WHERE :a <> '' AND :c <> ''"
            " AND tenant_code = :t AND application_id = :a AND case_number = '' RETURNING 1)"
            f" SELECT provincial_serial FROM {S}.online_applications WHERE tenant_code = :t AND"
            " ((:a <> '' AND application_id = :a) OR (:c <> '' AND case_number = :c)) LIMIT 1"),
            {"t": tenant, "a": application_id or "", "c": case_number or ""})
        return found[0] if found else ""

    # -- 委托收件: cases of the bound (deciding) unit collected by a window below it -------------------------
    def record_collected(self, tenant: str, application_id: str, collect_tenant: str, serial: str) -> bool:
        return bool(self.u.rows(sql(
            f"INSERT INTO {S}.collected_cases (tenant_code, application_id, collect_tenant, provincial_serial)"
            " VALUES (:t, :a, :c, :s) ON CONFLICT DO NOTHING RETURNING 1"),
            {"t": tenant, "a": application_id, "c": collect_tenant, "s": serial}))

    def collected(self, tenant: str, application_id: str, case_number: str) -> dict[str, Any] | None:
        """The collected case of the bound unit by application id or case number (the case number is noted
        the first time an event names both)."""
        if case_number and application_id:
            self.u.execute(sql(f"UPDATE {S}.collected_cases SET case_number = :c WHERE tenant_code = :t"
                               " AND application_id = :a AND case_number = ''"),
                           {"t": tenant, "a": application_id, "c": case_number})
        return self.u.mapping(sql(
            f"SELECT collect_tenant, provincial_serial FROM {S}.collected_cases WHERE tenant_code = :t AND"
            " ((:a <> '' AND application_id = :a) OR (:c <> '' AND case_number = :c)) LIMIT 1"),
            {"t": tenant, "a": application_id or "", "c": case_number or ""})

    def file_under_county(self) -> None:
        """Let this transaction (bound to a unit below a county) file reports under its county."""
        self.u.widen(COUNTY_FILING, on="on")

    def file_under(self, window: str) -> None:
        """Let this transaction (bound to the deciding unit) file reports under `window`, a unit below it."""
        self.u.widen(COLLECTED_FILING, window=window)

    # -- reconciliation ------------------------------------------------------------------------------
    def keep_reconciliation(self, tenant: str, day: dt.date, mismatches: int, resent: int, csv: str,
                            pdf: bytes | None = None) -> None:
        self.u.execute(sql(f"INSERT INTO {S}.reconciliations (tenant_code, day, mismatches, resent, csv, pdf)"
                           " VALUES (:t, :d, :m, :r, :c, :p)"), {"t": tenant, "d": day, "m": mismatches, "r": resent,
                                                                 "c": csv, "p": pdf})
