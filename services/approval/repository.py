"""Persistence of the approval schema, on the handler's unit of work (`uow.rows` / `row` / `value` /
`scalar` / `execute` / `batch`: psycopg on the transaction's own connection). Repositories never commit:
the handler's unit of work does.

Row-level security decides which rows exist for the current transaction; queries still filter by
tenant where the use case means it. Every change to a case takes the case row's lock first
(`SELECT … FOR UPDATE`), so two actions on one case serialise and never deadlock on its steps.
How a row becomes a domain object and back is in `rows.py`; every time written here comes from the
platform's clock (the handler's `now`), so a drill that pins the date sees it in every record.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from services.approval.case import Case
from services.approval.deadlines import Projection
from services.approval.domain import (
    DEFAULT_JOINT_SHARE,
    DeadlineChange,
    HistoryEntry,
    JointSharePolicy,
    LocalHolidayPolicy,
    Seal,
)
from services.approval.projects import Project, ProjectCase, ProjectPause
from services.approval.rows import (
    CASE_COLUMNS,
    INSPECTION_TYPES,
    STEP_TYPES,
    case_from_row,
    certificate_from_json,
    date_of,
    decision_from_json,
    inspection_from_json,
    inspection_row,
    json_default,
    ledger_from_json,
    projection_params,
    step_from_json,
    step_row,
    timestamp_of,
)
from shared.clock import CHINA_TZ
from shared.db import Database, UnitOfWork
from shared.tenancy import Principal

S = "approval"
# a desk's queue counts its open steps up to this many (above it the queue says "1000+",
# ListQueueResponse.total_capped): counting them all on every page grows with the open cases (issue 22)
QUEUE_TOTAL_CAP = 1000
# the case list counts its cases up to this many, as the queue does (ListCasesResponse.total_capped, issue 22)
CASES_TOTAL_CAP = 1000
# the steps that carry their case's promised_due (steps.due, the queue's index order)
_UNFINISHED_STEPS = "('waiting','open','claimed')"
# "next task": how many steps of each desk and kind are candidates before the whole queue is searched (more
# than the claims a unit's staff make at the same moment, whose locked cases are skipped)
NEXT_CANDIDATES = 32
# a step whose case the caller has worked on in another step (claimed or done): not theirs to take. Asked per
# candidate through the steps of its case (UNIQUE (case_id, seq)); OFFSET 0 keeps PostgreSQL from turning it
# into an anti-join, which it plans as one scan of every step ever made for the caller's name (250 ms at
# 200,000 cases) since it expects that name on about one row
_NOT_MINE = (f"NOT EXISTS (SELECT 1 FROM {S}.steps o WHERE o.case_id = s.case_id AND o.id <> s.id"
             " AND (o.claimed_by = :me OR o.done_by = :me) OFFSET 0)")


def _ids_in(column: str, prefix: str, n: int) -> str:
    """`column IN (:prefix0, …)` for n uuid parameters (false for none): a statement text per count, each with a
    generic plan as cheap as a custom one."""
    if not n:
        return "false"
    return f"{column} IN ({', '.join(f'CAST(:{prefix}{i} AS uuid)' for i in range(n))})"


# a document number as people read it: 620602-2026-XK000123 (unit, year, kind, the year's sequence)
_NUMBER = "tenant_code || '-' || year || '-' || kind || lpad(value::text, 6, '0')"
_CASE_COLUMNS_C = ", ".join(f"c.{col}" for col in CASE_COLUMNS)
_PARTS = (
    f"(SELECT coalesce(json_agg(s ORDER BY s.seq), '[]') FROM {S}.steps s WHERE s.case_id = c.id),"
    f" (SELECT coalesce(json_agg(l ORDER BY l.seq), '[]') FROM {S}.ledger l WHERE l.case_id = c.id),"
    f" (SELECT coalesce(json_agg(i ORDER BY i.requested_at, i.id), '[]') FROM {S}.inspections i"
    "   WHERE i.case_id = c.id),"
    f" (SELECT row_to_json(d) FROM {S}.decisions d WHERE d.case_id = c.id),"
    f" (SELECT row_to_json(x) FROM {S}.certificates x WHERE x.case_id = c.id),"
    f" (SELECT f.settled_at FROM {S}.fee_settlements f WHERE f.tenant_code = c.tenant_code"
    "   AND f.case_number = c.case_number),"
    f" (SELECT json_build_array(s.name, s.code) FROM {S}.seals s WHERE s.tenant_code = c.tenant_code)")


def _case_of(r) -> Case:
    """A case from a row of `_CASE_COLUMNS_C` followed by `_PARTS`."""
    case = case_from_row(r[:-7])
    steps, ledger, inspections, decision, cert, settled, seal = r[-7:]
    case.steps = [step_from_json(d) for d in steps]
    case.ledger = [ledger_from_json(d) for d in ledger]
    case.inspections = [inspection_from_json(d) for d in inspections]
    case.decision = decision_from_json(decision)
    case.certificate = certificate_from_json(cert)
    case.settlement_on_record = timestamp_of(settled)
    case.seal = Seal(seal[0], seal[1]) if seal else None
    return case


@dataclass
class QueueRow:
    step_id: str
    case_id: str
    case_number: str
    kind: str
    desk: str
    status: str
    claimed_by: str
    claimed_at: dt.datetime | None
    opened_at: dt.datetime | None
    share_days: int
    item_name: str
    applicant_name: str
    promised_due: dt.date | None
    statutory_due: dt.date | None
    provisional: bool
    suspended: bool


@dataclass(frozen=True)
class CalendarChangeRow:
    """One proposed or approved local holiday, with what its re-projection moved."""

    id: str
    tenant: str
    day: dt.date
    name: str
    reason: str
    status: str
    proposed_by: str
    proposed_by_name: str
    proposed_at: dt.datetime
    approved_by: str | None
    approved_by_name: str | None
    approved_at: dt.datetime | None
    cases_examined: int | None
    cases_changed: int | None
    cases_moved: list[str]


@dataclass
class OpenCaseRow:
    """What the re-projection needs of one open case."""

    id: str
    case_number: str
    accepted_on: dt.date
    promised_days: int
    statutory_total: int
    decided_on: dt.date | None
    pauses: list[tuple[dt.date, dt.date | None, str]]
    promised_due: dt.date | None
    statutory_due: dt.date | None
    delivery_due: dt.date | None
    provisional: bool
    suspended: bool


def queue_statement(tenant: str, username: str, desk: str, kinds: Sequence[str], mine: str | None, limit: int,
                    offset: int) -> tuple[str, dict[str, Any]]:
    """A page of a person's queue, most urgent first (the case's promised due date, then when the step opened), its
    length counted up to QUEUE_TOTAL_CAP + 1 (above QUEUE_TOTAL_CAP: "more than that"), and the desks the person
    is assigned to, in one statement: each row is the page's step (NULL columns when the page is empty), the count
    and the desks (`queue_page`).

    The desks read are the person's own (`desks`), or the one asked for when it is one of them, or none. The open
    steps are read per (desk, kind) from the index steps_queue_due (migration 0006) in the queue's order — steps.due
    is the case's promised_due, kept with it by _write and apply_projections — each stopping after offset + limit
    rows, then merged: a page does not sort every open step. `mine`: the steps the person has claimed instead."""
    params = {"t": tenant, "u": username, "desk": desk, "kinds": sorted(set(kinds)), "me": mine or "", "lim": limit,
              "off": offset, "n": limit + offset, "cap": QUEUE_TOTAL_CAP + 1}
    if mine:
        cond = "s.status = 'claimed' AND s.claimed_by = :me AND s.kind = ANY(:kinds)"
        steps = f"(SELECT s.* FROM {S}.steps s WHERE s.tenant_code = :t AND {cond})"
    else:
        cond = "s.status = 'open' AND s.desk = ANY(a.desks) AND s.kind = ANY(:kinds)"
        steps = ("(SELECT s.* FROM unnest(a.desks) d(desk) CROSS JOIN unnest(CAST(:kinds AS text[])) k(kind)"
                 f" CROSS JOIN LATERAL (SELECT s.* FROM {S}.steps s WHERE s.tenant_code = :t"
                 " AND s.status = 'open' AND s.desk = d.desk AND s.kind = k.kind"
                 " ORDER BY s.due NULLS LAST, s.opened_at, s.id LIMIT :n) s)")
    # the ids leave as text: a list shows them as text, and psycopg's UUID objects (made in Python, then turned
    # back into text) were a tenth of a page's Python
    return (
        "SELECT p.id::text, p.case_id::text, p.case_number, p.kind, p.desk, p.status, p.claimed_by, p.claimed_at,"
        " p.opened_at, p.share_days, p.item_name, p.applicant_name, p.promised_due, p.statutory_due,"
        " p.due_provisional, p.clock_suspended, t.n, a.assigned"
        " FROM (SELECT d.desks AS assigned, CASE WHEN :desk = '' THEN d.desks WHEN :desk = ANY(d.desks)"
        " THEN ARRAY[CAST(:desk AS text)] ELSE CAST(ARRAY[] AS text[]) END AS desks"
        f" FROM (SELECT coalesce(array_agg(desk ORDER BY desk), CAST(ARRAY[] AS text[])) AS desks FROM {S}.desks"
        " WHERE tenant_code = :t AND username = :u) d) a"
        f" CROSS JOIN LATERAL (SELECT count(*) AS n FROM (SELECT 1 FROM {S}.steps s WHERE s.tenant_code = :t"
        f" AND {cond} LIMIT :cap) q) t LEFT JOIN LATERAL ("
        "SELECT s.id, s.case_id, c.case_number, s.kind, s.desk, s.status, s.claimed_by, s.claimed_at,"
        " s.opened_at, s.share_days, c.item_name, c.applicant_name, c.promised_due, c.statutory_due,"
        f" c.due_provisional, c.clock_suspended FROM {steps} s JOIN {S}.cases c ON c.id = s.case_id"
        " ORDER BY c.promised_due NULLS LAST, s.opened_at, s.id LIMIT :lim OFFSET :off) p ON true"
        " ORDER BY p.promised_due NULLS LAST, p.opened_at, p.id", params)


def queue_page(db: Database, p: Principal, desk: str, kinds: Sequence[str], mine: bool, limit: int,
               offset: int) -> tuple[list[QueueRow], int, set[str]]:
    """`queue_statement` for the person `p` (their unit, their desks), bound to their unit alone, in one round trip
    (Database.read_planned; issue 22 item 4: the desks, the page and the count took BEGIN, two statements and
    ROLLBACK): (the page, its capped count, the desks the person is assigned to)."""
    rows = db.read_planned(p, *queue_statement(str(p.tenant), p.username, desk, kinds, p.username if mine else None,
                                               limit, offset), subtree=False)
    return ([QueueRow(*r[:16]) for r in rows if r[0] is not None], rows[0][16] if rows else 0,
            set(rows[0][17]) if rows else set())


class ApprovalRepository:
    """Statements of the approval schema, in the handler's unit of work."""

    def __init__(self, uow: UnitOfWork):
        self.u = uow

    # -- cases -------------------------------------------------------------------------------------
    # Each action is: lock the case row (one statement, which also finds the case of a step and the
    # caller's desks), read the case with its parts (one statement, a snapshot taken after the lock was
    # granted), and write every change (one statement of data-modifying CTEs).

    def insert_case(self, case: Case, proj: Projection) -> bool:
        """False when the application already has a case (a redelivered or repeated event)."""
        params = {"id": case.id, "t": case.tenant, "n": case.case_number, "app": case.application_id,
                  "item": case.item_id, "iv": case.item_version, "iname": case.item_name, "itype": case.item_type,
                  "dept": case.department, "cat": case.category, "imm": case.immediate, "joint": case.joint,
                  "jd": list(case.joint_departments), "fees": case.has_fees, "fcodes": list(case.fee_codes),
                  "site": case.site_inspection,
                  "gov": case.government_invested, "key": case.key_project, "applicant": case.applicant_name,
                  "sc": case.scenario_code, "sn": case.scenario_name,
                  "materials": json.dumps(case.materials, ensure_ascii=False), "acc_at": case.accepted_at,
                  "acc_on": case.accepted_on, "acc_by": case.accepted_by, "proxy": case.proxy_tenant,
                  "collect": case.collect_tenant,
                  "pd": case.promised_days, "sd": case.statutory_days, "status": case.status,
                  "opened": case.opened_at, **projection_params(proj)}
        head = (f"c AS (INSERT INTO {S}.cases (id, tenant_code, case_number, application_id, item_id, item_version,"
                " item_name, item_type, department, category, immediate, joint, joint_departments, has_fees, fee_codes,"
                " site_inspection, government_invested, key_project, applicant_name, scenario_code, scenario_name,"
                " materials, accepted_at, accepted_on, accepted_by, proxy_tenant, promised_days, statutory_days,"
                " status, opened_at, promised_due, statutory_due, delivery_due, due_provisional, clock_suspended,"
                " projected_at, collect_tenant)"
                " VALUES (:id, :t, :n, :app, :item, :iv, :iname, :itype, :dept, :cat, :imm, :joint, :jd, :fees,"
                " :fcodes, :site, :gov, :key, :applicant, :sc, :sn, CAST(:materials AS jsonb), :acc_at, :acc_on,"
                " :acc_by, :proxy, :pd, :sd, :status, :opened, :p_due, :s_due, :d_due, :prov, :susp, :opened, :collect)"
                " ON CONFLICT DO NOTHING RETURNING id, tenant_code, promised_due)")
        return self._write(case, head, params) > 0

    def lock(self, *, case_id: str | None = None, step_id: str | None = None,
             desks_of: str | None = None) -> tuple[str, set[str]] | None:
        """Lock a case row (given its id or one of its steps); (case id, the user's desks) or None."""
        target = "c.id = :v" if case_id else f"c.id = (SELECT case_id FROM {S}.steps WHERE id = :v)"
        desks = (f"(SELECT coalesce(array_agg(desk), '{{}}') FROM {S}.desks d WHERE d.tenant_code = c.tenant_code"
                 " AND d.username = :u)") if desks_of else "'{}'::text[]"
        r = self.u.row(f"SELECT c.id, {desks} FROM {S}.cases c WHERE {target} FOR UPDATE OF c",
                       {"v": case_id or step_id, "u": desks_of or ""})
        return (str(r[0]), set(r[1])) if r else None

    def read(self, *, case_id: str | None = None, case_number: str | None = None) -> Case | None:
        """The case with its steps, ledger, inspections, decision, certificate and any settlement on record."""
        where = "c.id = :v" if case_id else "c.case_number = :v"
        r = self.u.row(f"SELECT {_CASE_COLUMNS_C}, {_PARTS} FROM {S}.cases c WHERE {where}",
                       {"v": case_id or case_number})
        return None if r is None else _case_of(r)

    def load(self, *, case_id: str | None = None, case_number: str | None = None, lock: bool = True) -> Case | None:
        """Read a case; with `lock`, after taking its row lock (two statements)."""
        if lock:
            if case_number and not case_id:
                r = self.u.row(f"SELECT id FROM {S}.cases WHERE case_number = :n FOR UPDATE", {"n": case_number})
                if r is None:
                    return None
                case_id = str(r[0])
            elif self.lock(case_id=case_id) is None:
                return None
        return self.read(case_id=case_id, case_number=None if case_id else case_number)

    def save(self, case: Case, proj: Projection, now: dt.datetime) -> None:
        """Write the case's changes (one statement); `now`: when its due dates were projected."""
        params = {"id": case.id, "status": case.status, "fees_at": case.fees_settled_at, "completed": case.completed_at,
                  "delivered": case.delivered_at, "dm": case.delivery_method, "db": case.delivered_by,
                  "dr": case.delivery_recipient, "dtr": case.delivery_tracking, "now": now,
                  **projection_params(proj)}
        head = (f"c AS (UPDATE {S}.cases SET status = :status, fees_settled_at = :fees_at, completed_at = :completed,"
                " delivered_at = :delivered, delivery_method = :dm, delivered_by = :db, delivery_recipient = :dr,"
                " delivery_tracking = :dtr, promised_due = :p_due, statutory_due = :s_due, delivery_due = :d_due,"
                " due_provisional = :prov, clock_suspended = :susp, projected_at = :now, version = version + 1"
                " WHERE id = :id RETURNING id, tenant_code, promised_due)")
        if self._write(case, head, params) != 1:
            raise RuntimeError(f"case {case.id} could not be written")

    def numbering(self, case: Case, kind: str, year: int, placeholder: str,
                  outbox: Sequence[uuid.UUID]) -> tuple[str, dict[str, Any]]:
        """The statement that gives a decision just written its document number: the tenant's next of
        that kind and year, without gaps, put where `placeholder` stands in the decision, the certificate,
        the history and the `outbox` events. Its counter row stays locked until commit: run it last, with
        the COMMIT (`UnitOfWork.commit_with_last`). It returns the number."""
        statement = (
            f"WITH n AS (INSERT INTO {S}.counters (tenant_code, kind, year, value) VALUES (:t, :k, :y, 1)"
            " ON CONFLICT (tenant_code, kind, year) DO UPDATE SET value = counters.value + 1"
            f" RETURNING {_NUMBER} AS number),"
            f" d AS (UPDATE {S}.decisions SET document_number = (SELECT number FROM n) WHERE case_id = :id),"
            f" c AS (UPDATE {S}.certificates SET number = (SELECT number FROM n) WHERE case_id = :id),"
            f" h AS (UPDATE {S}.history SET detail = replace(detail, :ph, (SELECT number FROM n))"
            " WHERE case_id = :id AND strpos(detail, :ph) > 0),"
            # the events are this transaction's own rows, not yet committed, so unsent: found by their id's index
            # (with "sent_at IS NULL" PostgreSQL walked the partial index of unsent rows, dead entries and all,
            # ~1,000 blocks a call under load, while holding the counter row). One parameter per event, not an
            # array: with `= ANY(:array)` the generic plan counted on ten ids and cost more than a custom plan for
            # the one or two there are, so PostgreSQL planned this statement on every decision (issue 22)
            f" ob AS (UPDATE {S}.outbox SET body = replace(body, :ph, (SELECT number FROM n))"
            f" WHERE {_ids_in('id', 'ob', len(outbox))})"
            " SELECT number FROM n")
        return statement, {"t": case.tenant, "k": kind, "y": year, "id": case.id, "ph": placeholder,
                           **{f"ob{i}": str(event_id) for i, event_id in enumerate(outbox)}}

    def _write(self, case: Case, head: str, params: dict) -> int:
        """One statement: `head` (a CTE named c writing the case row, RETURNING id, tenant_code, promised_due)
        and, only if it wrote, every new or changed part of the case. Returns the case rows written.

        The steps not yet finished carry the case's promised_due (steps.due, migration 0006), the queue's
        order read from an index: new and changed steps take it here, the case's other unfinished steps
        follow it ("sd") when it moved."""
        ctes = [head]

        def part(name: str, statement: str, rows: list[dict]) -> None:
            if rows:
                params[name] = json.dumps(rows, ensure_ascii=False, default=json_default)
                ctes.append(f"{name} AS ({statement.format(rows=f'jsonb_to_recordset(CAST(:{name} AS jsonb))')})")

        new_steps = [step_row(s) for s in case.new_steps]
        part("si", f"INSERT INTO {S}.steps (id, case_id, tenant_code, kind, desk, seq, status, share_days, opened_at,"
                   " claimed_by, claimed_by_name, claimed_at, done_by, done_by_name, done_at, done_on, opinion,"
                   " conclusion, due) SELECT v.id, c.id, c.tenant_code, v.kind, v.desk, v.seq, v.status, v.share_days,"
                   " v.opened_at, v.claimed_by, v.claimed_by_name, v.claimed_at, v.done_by, v.done_by_name,"
                   " v.done_at, v.done_on, v.opinion, v.conclusion, c.promised_due"
                   f" FROM c, {{rows}} AS v({STEP_TYPES})", new_steps)
        dirty = [step_row(s) for s in case.steps if s.id in case.dirty_steps]
        part("su", f"UPDATE {S}.steps t SET status = v.status, opened_at = v.opened_at, claimed_by = v.claimed_by,"
                   " claimed_by_name = v.claimed_by_name, claimed_at = v.claimed_at, done_by = v.done_by,"
                   " done_by_name = v.done_by_name, done_at = v.done_at, done_on = v.done_on, opinion = v.opinion,"
                   f" conclusion = v.conclusion, due = c.promised_due FROM c, {{rows}} AS v({STEP_TYPES})"
                   " WHERE t.id = v.id AND t.case_id = c.id", dirty)
        # the case's other unfinished steps follow its promised_due (a row is written once per statement:
        # the steps "su" writes are left to it)
        params["sd_skip"] = [str(r["id"]) for r in dirty]
        ctes.append(f"sd AS (UPDATE {S}.steps t SET due = c.promised_due FROM c WHERE t.case_id = c.id"
                    f" AND t.status IN {_UNFINISHED_STEPS} AND t.due IS DISTINCT FROM c.promised_due"
                    " AND t.id <> ALL(CAST(:sd_skip AS uuid[])))")
        part("li", f"INSERT INTO {S}.ledger (id, case_id, tenant_code, kind, procedure, reason, days, on_date, at,"
                   " by_user, by_name, approved_by, approved_by_name, ref, notice_number) SELECT v.id, c.id,"
                   " c.tenant_code, v.kind, v.procedure, v.reason, v.days, v.on_date, v.at, v.by_user, v.by_name,"
                   " v.approved_by, v.approved_by_name, v.ref, v.notice_number FROM c, {rows} AS v(id uuid,"
                   " kind text, procedure text, reason text, days int, on_date date, at timestamptz, by_user text,"
                   " by_name text, approved_by text, approved_by_name text, ref uuid, notice_number text,"
                   " seq int) ORDER BY v.seq",
             [{"id": e.id, "kind": e.kind, "procedure": e.procedure, "reason": e.reason, "days": e.days,
               "on_date": e.on_date, "at": e.at, "by_user": e.by, "by_name": e.by_name, "approved_by": e.approved_by,
               "approved_by_name": e.approved_by_name, "ref": e.ref or None, "notice_number": e.notice_number,
               "seq": i} for i, e in enumerate(case.new_ledger)])
        part("ii", f"INSERT INTO {S}.inspections (id, case_id, tenant_code, mode, departments, scheduled_on, suspends,"
                   " status, inspectors, note, findings, conclusion, requested_by, requested_at, recorded_by,"
                   " recorded_at, suspension_id) SELECT v.id, c.id, c.tenant_code, v.mode, v.departments,"
                   " v.scheduled_on, v.suspends, v.status, v.inspectors, v.note, v.findings, v.conclusion,"
                   " v.requested_by, v.requested_at, v.recorded_by, v.recorded_at, v.suspension_id"
                   f" FROM c, {{rows}} AS v({INSPECTION_TYPES})", [inspection_row(i) for i in case.new_inspections])
        part("iu", f"UPDATE {S}.inspections t SET status = v.status, findings = v.findings, conclusion = v.conclusion,"
                   " recorded_by = v.recorded_by, recorded_at = v.recorded_at"
                   f" FROM c, {{rows}} AS v({INSPECTION_TYPES}) WHERE t.id = v.id AND t.case_id = c.id",
             [inspection_row(i) for i in case.inspections if i.id in case.dirty_inspections])
        if case.new_decision and case.decision is not None:
            d = case.decision
            part("di", f"INSERT INTO {S}.decisions (case_id, tenant_code, outcome, decider, decider_name, at,"
                       " decided_on, opinion, reasons, remedies, document_number, immediate) SELECT c.id,"
                       " c.tenant_code, v.outcome, v.decider, v.decider_name, v.at, v.decided_on, v.opinion,"
                       " v.reasons, v.remedies, v.document_number, v.immediate"
                       " FROM c, {rows} AS v(outcome text,"
                       " decider text, decider_name text, at timestamptz, decided_on date, opinion text,"
                       " reasons text[], remedies text, document_number text, immediate boolean)",
                 [{"outcome": d.outcome, "decider": d.decider, "decider_name": d.decider_name, "at": d.at,
                   "decided_on": d.decided_on, "opinion": d.opinion, "reasons": list(d.reasons),
                   "remedies": d.remedies, "document_number": d.document_number, "immediate": d.immediate}])
            if case.certificate is not None:
                x = case.certificate
                part("ci", f"INSERT INTO {S}.certificates (case_id, tenant_code, number, title, holder, seal_name,"
                           " seal_code, issued_at) SELECT c.id, c.tenant_code, v.number,"
                           " v.title, v.holder,"
                           " v.seal_name, v.seal_code, v.issued_at FROM c, {rows} AS v(number text, title text,"
                           " holder text, seal_name text, seal_code text, issued_at timestamptz)",
                     [{"number": x.number, "title": x.title, "holder": x.holder, "seal_name": x.seal_name,
                       "seal_code": x.seal_code, "issued_at": x.issued_at}])
        part("hi", f"INSERT INTO {S}.history (case_id, tenant_code, at, actor, actor_name, action, detail, opinion)"
                   " SELECT c.id, c.tenant_code, v.at, v.actor, v.actor_name, v.action, v.detail,"
                   " v.opinion"
                   " FROM c, {rows} AS v(at timestamptz, actor text, actor_name text, action text, detail text,"
                   " opinion text, seq int) ORDER BY v.seq",
             [{"at": h.at, "actor": h.actor, "actor_name": h.actor_name, "action": h.action, "detail": h.detail,
               "opinion": h.opinion, "seq": i} for i, h in enumerate(case.new_history)])
        written = self.u.value("WITH " + ", ".join(ctes) + " SELECT count(*) FROM c", params)
        case.new_steps, case.new_ledger, case.new_history, case.new_inspections = [], [], [], []
        case.dirty_steps, case.dirty_inspections, case.new_decision = set(), set(), False
        return int(written)

    def history(self, case_id: str) -> list[HistoryEntry]:
        rows = self.u.rows(f"SELECT at, actor, actor_name, action, detail, opinion FROM {S}.history"
                           " WHERE case_id = :id ORDER BY id", {"id": case_id})
        return [HistoryEntry(*r) for r in rows]

    def deadline_changes(self, case_id: str) -> list[DeadlineChange]:
        return [DeadlineChange(*r) for r in self.u.rows(
            f"SELECT at, cause, previous_promised_due, promised_due, previous_statutory_due, statutory_due,"
            f" provisional, previous_delivery_due, delivery_due FROM {S}.deadline_changes WHERE case_id = :id"
            " ORDER BY id", {"id": case_id})]

    def list_cases(self, tenant: str, status: str, overdue_on: dt.date | None, limit: int,
                   offset: int) -> tuple[list[Case], int]:
        """A page of the tenant's cases, most urgent first (promised due date, when the case opened, its id: the
        order of the indexes cases_list and cases_list_status, migration 0008), each read as `read` reads it, and
        their number counted up to CASES_TOTAL_CAP + 1 (above CASES_TOTAL_CAP: "more than that").

        One statement: the count's row carries the page's, or stands alone (its case NULL) when the page is
        empty. The page's ids are found first (the index, stopping after offset + limit rows), then only those
        cases are read with their parts — not one statement per listed case (issue 22 item 4)."""
        where = ["tenant_code = :t"]
        if status:
            where.append("status = :status")
        if overdue_on is not None:
            where.append("status IN ('review','decision') AND promised_due < :today")
        cond = " AND ".join(where)
        rows = self.u.rows_planned(
            f"SELECT p.*, t.n FROM (SELECT count(*) AS n FROM (SELECT 1 FROM {S}.cases WHERE {cond} LIMIT :cap) q) t"
            f" LEFT JOIN LATERAL (SELECT {_CASE_COLUMNS_C}, {_PARTS}, pg.ord FROM (SELECT id, row_number() OVER"
            f" (ORDER BY promised_due, opened_at, id) AS ord FROM (SELECT id, promised_due, opened_at FROM {S}.cases"
            f" WHERE {cond} ORDER BY promised_due, opened_at, id LIMIT :lim OFFSET :off) o) pg"
            f" JOIN {S}.cases c ON c.id = pg.id) p ON true ORDER BY p.ord",
            {"t": tenant, "status": status, "today": overdue_on, "lim": limit, "off": offset,
             "cap": CASES_TOTAL_CAP + 1})
        return [_case_of(r[:-2]) for r in rows if r[0] is not None], (rows[0][-1] if rows else 0)

    # -- queues ------------------------------------------------------------------------------------
    def next_in_queue(self, tenant: str, desks: Sequence[str], kinds: Sequence[str], me: str) -> tuple[str, str] | None:
        """(case_id, step_id) of the most urgent open step the caller may take, its case row locked.
        Cases another transaction is working on are skipped, not waited for; a decider never gets a
        case they reviewed, and nobody gets a case they accepted at the window (受理、审查、决定相分离).

        The first NEXT_CANDIDATES steps the caller may take of each desk and kind are read in the queue's
        order from steps_queue_due (not every open step sorted), and the most urgent one whose case is not
        locked is taken; only when all of them are locked (or none qualifies) is the whole queue searched."""
        params = {"t": tenant, "desks": sorted(set(desks)), "kinds": sorted(set(kinds)), "me": me,
                  "k": NEXT_CANDIDATES}
        r = self.u.row(
            f"SELECT c.id, s.id FROM (SELECT s.* FROM unnest(CAST(:desks AS text[])) d(desk)"
            " CROSS JOIN unnest(CAST(:kinds AS text[])) k(kind)"
            f" CROSS JOIN LATERAL (SELECT s.id, s.case_id, s.opened_at FROM {S}.steps s"
            f" JOIN {S}.cases a ON a.id = s.case_id"
            " WHERE s.tenant_code = :t AND s.status = 'open' AND s.desk = d.desk AND s.kind = k.kind"
            f" AND a.accepted_by <> :me AND {_NOT_MINE}"
            " ORDER BY s.due NULLS LAST, s.opened_at, s.id LIMIT :k) s) s"
            f" JOIN {S}.cases c ON c.id = s.case_id"
            " ORDER BY c.promised_due NULLS LAST, s.opened_at, s.id LIMIT 1 FOR UPDATE OF c SKIP LOCKED", params)
        if r is None:
            r = self.u.row(
                f"SELECT c.id, s.id FROM {S}.steps s JOIN {S}.cases c ON c.id = s.case_id"
                " WHERE s.tenant_code = :t AND s.status = 'open' AND s.desk = ANY(:desks) AND s.kind = ANY(:kinds)"
                f" AND c.accepted_by <> :me AND {_NOT_MINE}"
                " ORDER BY c.promised_due NULLS LAST, s.opened_at, s.id LIMIT 1 FOR UPDATE OF c SKIP LOCKED", params)
        return (str(r[0]), str(r[1])) if r else None

    # -- reference data, desks, seals, numbers -----------------------------------------------------
    def category_for(self, tenant: str, department: str, item_type: str) -> str:
        r = self.u.row(
            f"SELECT category FROM {S}.category_rules WHERE left(:t, length(region)) = region AND ("
            " (kind = 'department_contains' AND pattern <> '' AND strpos(:dept, pattern) > 0)"
            " OR (kind = 'item_type' AND pattern = :type) OR kind = 'default')"
            " ORDER BY priority, length(region) DESC, id LIMIT 1",
            {"t": tenant, "dept": department or "", "type": item_type or ""})
        return r[0] if r else "social_affairs"

    def categories(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.u.rows(f"SELECT code, name FROM {S}.categories ORDER BY sort")]

    def desks_of(self, tenant: str, username: str) -> set[str]:
        return {r[0] for r in self.u.rows(f"SELECT desk FROM {S}.desks WHERE tenant_code = :t AND username = :u",
                                          {"t": tenant, "u": username})}

    def assign_desks(self, tenant: str, username: str, desks: Iterable[str], display_name: str, by: str,
                     now: dt.datetime) -> None:
        insert = (f"INSERT INTO {S}.desks (tenant_code, username, desk, display_name, assigned_by, assigned_at)"
                  " VALUES (:t, :u, :d, :n, :by, :at)")
        self.u.batch((f"DELETE FROM {S}.desks WHERE tenant_code = :t AND username = :u", {"t": tenant, "u": username}),
                     *((insert, {"t": tenant, "u": username, "d": d, "n": display_name, "by": by, "at": now})
                       for d in desks))

    def desk_assignments(self, tenant: str) -> list[tuple[str, str, list[str]]]:
        rows = self.u.rows(f"SELECT username, max(display_name), array_agg(desk ORDER BY desk) FROM {S}.desks"
                           " WHERE tenant_code = :t GROUP BY username ORDER BY username", {"t": tenant})
        return [(r[0], r[1], list(r[2])) for r in rows]

    def seal(self, tenant: str) -> tuple[Seal, dt.datetime, str] | None:
        r = self.u.row(f"SELECT name, code, registered_at, registered_by FROM {S}.seals WHERE tenant_code = :t",
                       {"t": tenant})
        return (Seal(r[0], r[1]), r[2], r[3]) if r else None

    def register_seal(self, tenant: str, seal: Seal, by: str, now: dt.datetime) -> bool:
        r = self.u.row(f"INSERT INTO {S}.seals (tenant_code, name, code, registered_by, registered_at) VALUES"
                       " (:t, :n, :c, :by, :at) ON CONFLICT (tenant_code) DO NOTHING RETURNING tenant_code",
                       {"t": tenant, "n": seal.name, "c": seal.code, "by": by, "at": now})
        return r is not None

    def next_number(self, tenant: str, kind: str, year: int) -> str:
        """The tenant's next number of a kind and year, without gaps (its counter row stays locked until commit)."""
        return self.u.value(
            f"INSERT INTO {S}.counters (tenant_code, kind, year, value) VALUES (:t, :k, :y, 1)"
            f" ON CONFLICT (tenant_code, kind, year) DO UPDATE SET value = counters.value + 1 RETURNING {_NUMBER}",
            {"t": tenant, "k": kind, "y": year})

    # -- fees ----------------------------------------------------------------------------------------
    def record_settlement(self, tenant: str, case_number: str, paid_fen: int, waived_fen: int, waived_in_full: bool,
                          settled_at: dt.datetime, event_id: str, now: dt.datetime) -> bool:
        r = self.u.row(
            f"INSERT INTO {S}.fee_settlements (tenant_code, case_number, paid_fen, waived_fen, waived_in_full,"
            " settled_at, event_id, received_at) VALUES (:t, :n, :p, :w, :wf, :at, :ev, :now) ON CONFLICT DO NOTHING"
            " RETURNING case_number",
            {"t": tenant, "n": case_number, "p": paid_fen, "w": waived_fen, "wf": waived_in_full, "at": settled_at,
             "ev": event_id, "now": now})
        return r is not None

    # -- re-projection -------------------------------------------------------------------------------
    def tenants_with_open_cases(self, region: str) -> list[str]:
        return [r[0] for r in self.u.rows(
            f"SELECT DISTINCT tenant_code FROM {S}.cases WHERE tenant_code LIKE :r || '%'"
            " AND status IN ('review','decision','awaiting_fees','completed') ORDER BY tenant_code", {"r": region})]

    def open_cases(self, tenant: str, after: str, limit: int) -> list[OpenCaseRow]:
        """Cases whose decision or delivery clock still runs, in id order after `after` (keyset)."""
        rows = self.u.rows(f"""
            WITH c AS (
                SELECT id, case_number, accepted_on, promised_days, statutory_days, promised_due, statutory_due,
                       delivery_due, due_provisional, clock_suspended
                  FROM {S}.cases
                 WHERE tenant_code = :t AND status IN ('review','decision','awaiting_fees','completed')
                   AND id > CAST(:after AS uuid)
                 ORDER BY id LIMIT :lim
            ), l AS (
                SELECT s.case_id,
                       sum(s.days) FILTER (WHERE s.kind = 'extend') AS ext,
                       json_agg(json_build_array(s.on_date, r.on_date, s.procedure))
                           FILTER (WHERE s.kind = 'suspend') AS pauses
                  FROM {S}.ledger s LEFT JOIN {S}.ledger r ON r.ref = s.id AND r.kind = 'resume'
                 WHERE s.case_id IN (SELECT id FROM c) AND s.kind IN ('suspend','extend')
                 GROUP BY s.case_id
            )
            SELECT c.id, c.case_number, c.accepted_on, c.promised_days, c.statutory_days + coalesce(l.ext, 0),
                   d.decided_on, l.pauses, c.promised_due, c.statutory_due, c.delivery_due, c.due_provisional,
                   c.clock_suspended
              FROM c LEFT JOIN l ON l.case_id = c.id LEFT JOIN {S}.decisions d ON d.case_id = c.id
             ORDER BY c.id""", {"t": tenant, "after": after, "lim": limit})
        out = []
        for r in rows:
            pauses = [(date_of(p[0]), date_of(p[1]), p[2]) for p in (r[6] or [])]
            out.append(OpenCaseRow(str(r[0]), r[1], r[2], r[3], int(r[4]), r[5], pauses, r[7], r[8], r[9], r[10],
                                   r[11]))
        return out

    def apply_projections(self, tenant: str, changes: list[tuple[OpenCaseRow, Projection]], cause: str,
                          now: dt.datetime) -> None:
        """Write re-projected due dates and record each change on its case (at `now`), in two statements."""
        if not changes:
            return
        cols = {
            "ids": [c.id for c, _ in changes], "p": [p.promised_due for _, p in changes],
            "s": [p.statutory_due for _, p in changes], "d": [p.delivery_due for _, p in changes],
            "prov": [p.provisional for _, p in changes], "susp": [p.suspended for _, p in changes],
            "pp": [c.promised_due for c, _ in changes], "ps": [c.statutory_due for c, _ in changes],
            "pd": [c.delivery_due for c, _ in changes],
        }
        self.u.batch(
            (f"UPDATE {S}.cases c SET promised_due = v.p, statutory_due = v.s, delivery_due = v.d,"
             " due_provisional = v.prov, clock_suspended = v.susp, projected_at = :now"
             " FROM unnest(CAST(:ids AS uuid[]), CAST(:p AS date[]), CAST(:s AS date[]), CAST(:d AS date[]),"
             " CAST(:prov AS boolean[]), CAST(:susp AS boolean[])) AS v(id, p, s, d, prov, susp)"
             " WHERE c.id = v.id AND c.tenant_code = :t", {**cols, "t": tenant, "now": now}),
            # the unfinished steps carry their case's promised_due (the queue's index order, migration 0006)
            (f"UPDATE {S}.steps t SET due = v.p FROM unnest(CAST(:ids AS uuid[]), CAST(:p AS date[])) AS v(id, p)"
             f" WHERE t.case_id = v.id AND t.tenant_code = :t AND t.status IN {_UNFINISHED_STEPS}"
             " AND t.due IS DISTINCT FROM v.p", {**cols, "t": tenant}),
            (f"INSERT INTO {S}.deadline_changes (case_id, tenant_code, cause, previous_promised_due, promised_due,"
             " previous_statutory_due, statutory_due, previous_delivery_due, delivery_due, provisional, at)"
             " SELECT v.id, :t, :cause, v.pp, v.p, v.ps, v.s, v.pd, v.d, v.prov, :now"
             " FROM unnest(CAST(:ids AS uuid[]), CAST(:p AS date[]), CAST(:s AS date[]), CAST(:d AS date[]),"
             " CAST(:prov AS boolean[]), CAST(:pp AS date[]), CAST(:ps AS date[]), CAST(:pd AS date[]))"
             " AS v(id, p, s, d, prov, pp, ps, pd)", {**cols, "t": tenant, "cause": cause, "now": now}))

    def joint_share_policy(self, province: str) -> JointSharePolicy:
        """The province's split of a joint case's promised limit, or the documented default."""
        r = self.u.row(f"SELECT lead_percent, lead_min_days FROM {S}.joint_share_policies WHERE province = :p",
                       {"p": province})
        return JointSharePolicy(int(r[0]), int(r[1])) if r else DEFAULT_JOINT_SHARE

    # -- local holidays and their audit ---------------------------------------------------------------
    def local_holiday_policy(self, province: str) -> LocalHolidayPolicy:
        r = self.u.row(f"SELECT local_holidays_allowed, max_days_per_year FROM {S}.calendar_local_policies"
                       " WHERE province = :p", {"p": province})
        return LocalHolidayPolicy(bool(r[0]), int(r[1])) if r else LocalHolidayPolicy()

    def local_holidays_in_year(self, tenant: str, year: int, *, besides: str | None = None) -> int:
        """The unit's local holidays of a year, approved or still proposed (not counting `besides`)."""
        return int(self.u.value(
            f"SELECT count(*) FROM {S}.calendar_changes WHERE tenant_code = :t"
            " AND day >= make_date(:y, 1, 1) AND day < make_date(:y + 1, 1, 1)"
            " AND id <> COALESCE(CAST(:besides AS uuid), '00000000-0000-0000-0000-000000000000')",
            {"t": tenant, "y": year, "besides": besides}))

    def propose_local_holiday(self, change_id: str, tenant: str, day: dt.date, name: str, reason: str, by: str,
                              by_name: str, now: dt.datetime) -> None:
        self.u.execute(f"INSERT INTO {S}.calendar_changes (id, tenant_code, day, name, reason, status, proposed_by,"
                       " proposed_by_name, proposed_at) VALUES (:id, :t, :day, :n, :r, 'proposed', :by, :byn, :at)",
                       {"id": change_id, "t": tenant, "day": day, "n": name, "r": reason, "by": by, "byn": by_name,
                        "at": now})

    def lock_calendar_change(self, tenant: str, change_id: str) -> CalendarChangeRow | None:
        rows = self._calendar_changes(" WHERE tenant_code = :t AND id = CAST(:id AS uuid) FOR UPDATE",
                                      {"t": tenant, "id": change_id})
        return rows[0] if rows else None

    def approve_local_holiday(self, change: CalendarChangeRow, by: str, by_name: str, now: dt.datetime) -> None:
        """The day joins the public calendar of the unit's area, and the proposal is marked approved."""
        self.u.batch(
            (f"INSERT INTO {S}.calendar_local_days (region, day, name, change_id, approved_at)"
             " VALUES (:t, :day, :n, :id, :at)",
             {"t": change.tenant, "day": change.day, "n": change.name, "id": change.id, "at": now}),
            (f"UPDATE {S}.calendar_changes SET status = 'approved', approved_by = :by, approved_by_name = :byn,"
             " approved_at = :at WHERE tenant_code = :t AND id = CAST(:id AS uuid)",
             {"by": by, "byn": by_name, "at": now, "t": change.tenant, "id": change.id}))

    def record_calendar_change_effect(self, tenant: str, change_id: str, examined: int, changed: int,
                                      moved: list[str]) -> None:
        self.u.execute(f"UPDATE {S}.calendar_changes SET cases_examined = :e, cases_changed = :c, cases_moved = :m"
                       " WHERE tenant_code = :t AND id = CAST(:id AS uuid)",
                       {"e": examined, "c": changed, "m": moved, "t": tenant, "id": change_id})

    def calendar_changes(self, limit: int, offset: int) -> list[CalendarChangeRow]:
        """Every change the unit of work may read: its own tenant's, or its subtree's for supervision (RLS)."""
        return self._calendar_changes(" ORDER BY proposed_at DESC, id LIMIT :lim OFFSET :off",
                                      {"lim": limit, "off": offset})

    def calendar_change(self, tenant: str, change_id: str) -> CalendarChangeRow | None:
        rows = self._calendar_changes(" WHERE tenant_code = :t AND id = CAST(:id AS uuid)",
                                      {"t": tenant, "id": change_id})
        return rows[0] if rows else None

    def _calendar_changes(self, tail: str, params: dict) -> list[CalendarChangeRow]:
        rows = self.u.rows(
            f"SELECT id::text, tenant_code, day, name, reason, status, proposed_by, proposed_by_name, proposed_at,"
            f" approved_by, approved_by_name, approved_at, cases_examined, cases_changed, cases_moved"
            f" FROM {S}.calendar_changes" + tail, params)
        return [CalendarChangeRow(*r[:14], list(r[14] or [])) for r in rows]

    # -- the staff a unit has seen --------------------------------------------------------------------
    def saw_staff(self, tenant: str, username: str, display_name: str, now: dt.datetime) -> None:
        self.u.execute(f"INSERT INTO {S}.staff (tenant_code, username, display_name, first_seen_at, last_seen_at)"
                       " VALUES (:t, :u, :n, :now, :now) ON CONFLICT (tenant_code, username) DO UPDATE"
                       " SET display_name = EXCLUDED.display_name, last_seen_at = EXCLUDED.last_seen_at",
                       {"t": tenant, "u": username, "n": display_name, "now": now})

    def is_staff(self, tenant: str, username: str) -> bool:
        return self.u.row(f"SELECT 1 FROM {S}.staff WHERE tenant_code = :t AND username = :u",
                          {"t": tenant, "u": username}) is not None


class ProjectRepository:
    """Persistence of whole-project limits (approval.projects, project_cases, project_pauses), on the unit of
    work; the project's cases are read live from the unit's own cases. Never commits."""

    def __init__(self, uow: UnitOfWork):
        self.u = uow

    def add(self, p: Project, now: dt.datetime) -> None:
        self.u.execute(f"INSERT INTO {S}.projects (id, tenant_code, name, kind, limit_days, started_on, created_by,"
                       " created_at) VALUES (:id, :t, :n, :k, :d, :s, :by, :now)",
                       {"id": p.id, "t": p.tenant, "n": p.name, "k": p.kind, "d": p.limit_days, "s": p.started_on,
                        "by": p.created_by, "now": now})

    def load(self, project_id: str, *, lock: bool = False) -> Project | None:
        r = self.u.row(f"SELECT id, tenant_code, name, kind, limit_days, started_on, created_by FROM {S}.projects"
                       f" WHERE id = :id{' FOR UPDATE' if lock else ''}", {"id": project_id})
        if r is None:
            return None
        p = Project(id=str(r[0]), tenant=r[1], name=r[2], kind=r[3], limit_days=r[4], started_on=r[5],
                    created_by=r[6])
        p.cases = [ProjectCase(case_id=str(c[0]), case_number=c[1], item_name=c[2], department=c[3], status=c[4],
                               promised_due=c[5], completed_on=c[6].astimezone(CHINA_TZ).date() if c[6] else None)
                   for c in self.u.rows(
                       f"SELECT c.id, c.case_number, c.item_name, c.department, c.status, c.promised_due,"
                       f" c.completed_at FROM {S}.project_cases pc JOIN {S}.cases c ON c.id = pc.case_id"
                       " WHERE pc.project_id = :id ORDER BY pc.added_at, c.case_number", {"id": project_id})]
        p.pauses = [ProjectPause(id=str(x[0]), start=x[1], end=x[2], reason=x[3], by=x[4], resumed_by=x[5])
                    for x in self.u.rows(f"SELECT id, start_on, end_on, reason, by_user, resumed_by"
                                         f" FROM {S}.project_pauses WHERE project_id = :id ORDER BY start_on, id",
                                         {"id": project_id})]
        return p

    def case_for_project(self, case_number: str) -> ProjectCase | None:
        """One of the unit's cases, as a project holds it (RLS: only the bound unit's own)."""
        c = self.u.row(f"SELECT id, case_number, item_name, department, status, promised_due, completed_at"
                       f" FROM {S}.cases WHERE case_number = :n", {"n": case_number})
        if c is None:
            return None
        return ProjectCase(case_id=str(c[0]), case_number=c[1], item_name=c[2], department=c[3], status=c[4],
                           promised_due=c[5], completed_on=c[6].astimezone(CHINA_TZ).date() if c[6] else None)

    def add_case(self, p: Project, case: ProjectCase, by: str, now: dt.datetime) -> None:
        self.u.execute(f"INSERT INTO {S}.project_cases (project_id, case_id, tenant_code, added_by, added_at)"
                       " VALUES (:p, :c, :t, :by, :now)", {"p": p.id, "c": case.case_id, "t": p.tenant, "by": by,
                                                          "now": now})

    def save_pauses(self, p: Project) -> None:
        for x in p.new_pauses:
            self.u.execute(f"INSERT INTO {S}.project_pauses (id, project_id, tenant_code, start_on, reason, by_user)"
                           " VALUES (:id, :p, :t, :s, :r, :by)",
                           {"id": x.id, "p": p.id, "t": p.tenant, "s": x.start, "r": x.reason, "by": x.by})
        for x in p.ended_pauses:
            self.u.execute(f"UPDATE {S}.project_pauses SET end_on = :e, resumed_by = :by WHERE id = :id",
                           {"id": x.id, "e": x.end, "by": x.resumed_by})
