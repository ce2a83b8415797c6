"""Persistence of the supervision schema on the caller's unit of work: the read model (cases, held steps), cards,
orders and replies, accountability records, statistics. Never commits; widens RLS only through the named scopes
below (the threshold sweep; the public scorecard and ranking, which read counts only)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from services.supervision.domain import CaseFacts, CaseStage, StepFacts, WantedCard
from shared.db import RlsScope, UnitOfWork, sql

S = "supervision"
THRESHOLD_SWEEP = RlsScope("supervision threshold sweep", {"on": "app.sweep"})
PUBLIC_STATS = RlsScope("public scorecard and ranking", {"on": "app.public_stats"})

_CASE_COLUMNS = ("tenant_code, application_id, stage, case_number, item_name, department, channel, received_on,"
                 " received_by, deemed, accepted_by, immediate, promised_limit, statutory_limit, promised_due,"
                 " statutory_due, promised_trace, statutory_trace, provisional_years, suspended, suspensions,"
                 " paused_days")
_CARD_COLUMNS = ("id, tenant_code, rule_id, severity, status, subject_kind, subject_ref, application_id, case_number,"
                 " item_name, department, post, post_holder, post_holder_name, due, trace, text, cases, raised_on,"
                 " raised_at, closed_at, closed_reason")
_CARD_COLUMNS_OF_K = ", ".join(f"k.{c.strip()}" for c in _CARD_COLUMNS.split(","))
_ORDER_COLUMNS = ("o.id, o.number, o.tenant_code, o.unit_tenant, o.card_id, o.rule_id, o.case_number, o.issued_by,"
                  " o.issued_by_name, o.issued_at, o.reply_due, o.request, o.status, r.reason, r.rectification,"
                  " r.answered_by, r.answered_at, o.escalated_to, o.escalated_at, o.post_holder, o.severity")


@dataclass
class CardRow:
    id: str
    tenant: str
    rule_id: str
    severity: str
    status: str
    subject_kind: str
    subject_ref: str
    application_id: str
    case_number: str
    item_name: str
    department: str
    post: str
    post_holder: str
    post_holder_name: str
    due: dt.date | None
    trace: str
    text: str
    cases: list[str]
    raised_on: dt.date
    raised_at: dt.datetime
    closed_at: dt.datetime | None
    closed_reason: str


@dataclass
class OrderRow:
    id: str
    number: str
    tenant: str
    unit: str
    card_id: str
    rule_id: str
    case_number: str
    issued_by: str
    issued_by_name: str
    issued_at: dt.datetime
    reply_due: dt.date
    request: str
    status: str
    reason: str | None
    rectification: str | None
    answered_by: str | None
    answered_at: dt.datetime | None
    escalated_to: str
    escalated_at: dt.datetime | None
    post_holder: str
    severity: str


def _card(r: tuple) -> CardRow:
    values = list(r)
    values[0] = str(values[0])
    return CardRow(*values)


def _order(r: tuple) -> OrderRow:
    values = list(r)
    values[0], values[4] = str(values[0]), str(values[4])
    return OrderRow(*values)


class SupervisionRepository:
    def __init__(self, uow: UnitOfWork):
        self.u = uow
        # (tenant, application id) → next_check_on of a case row this transaction holds locked (case(lock=True)):
        # set_next_check writes only a change
        self._next_checks: dict[tuple[str, str], dt.date | None] = {}

    # -- read model --------------------------------------------------------------------------------------------
    def case(self, tenant: str, *, application_id: str = "", case_number: str = "", lock: bool = False) \
            -> CaseFacts | None:
        where = "application_id = :a" if application_id else "case_number = :n AND case_number <> ''"
        row = self.u.row(sql(f"SELECT {_CASE_COLUMNS}, next_check_on FROM {S}.cases WHERE tenant_code = :t AND {where}"
                             + (" FOR UPDATE" if lock else "")),
                         {"t": tenant, "a": application_id, "n": case_number})
        return None if row is None else self._case_facts(row, lock)

    def case_with_cards(self, tenant: str,
                        application_id: str) -> tuple[CaseFacts | None, list[CardRow], list[CardRow]]:
        """What a case's evaluation reads, in one statement: the case, locked (case(lock=True)); its open cards; and,
        if it has a number, the open calendar cards naming it, locked (every case of the year's card writes its
        list). The case is the outer side of the join, so it is locked before the calendar cards, in the order the
        two statements it replaces took (issue 22: one statement fewer on each of the 11 events of a lifecycle).
        No case: (None, [], []), and no card is read."""
        width = len(_CASE_COLUMNS.split(",")) + 1
        rows = self.u.rows(sql(
            f"WITH c AS (SELECT {_CASE_COLUMNS}, next_check_on FROM {S}.cases WHERE tenant_code = :t"
            " AND application_id = :a FOR UPDATE),"
            f" own AS (SELECT {_CARD_COLUMNS} FROM {S}.cards WHERE tenant_code = :t AND application_id = :a"
            " AND status = 'open' AND subject_kind <> 'calendar'),"
            f" cal AS (SELECT {_CARD_COLUMNS_OF_K} FROM {S}.cards k JOIN c ON c.case_number <> ''"
            " AND k.cases ? c.case_number WHERE k.tenant_code = :t AND k.subject_kind = 'calendar'"
            " AND k.status = 'open' FOR UPDATE OF k)"
            " SELECT c.*, k.* FROM c LEFT JOIN (SELECT * FROM own UNION ALL SELECT * FROM cal) k ON true"),
            {"t": tenant, "a": application_id})
        if not rows:
            return None, [], []
        case = self._case_facts(rows[0][:width], True)
        cards = [_card(r[width:]) for r in rows if r[width] is not None]
        return (case, [c for c in cards if c.subject_kind != "calendar"],
                [c for c in cards if c.subject_kind == "calendar"])

    def _case_facts(self, row: tuple, locked: bool) -> CaseFacts:
        (t, app, stage, number, item, dept, channel, received_on, received_by, deemed, accepted_by, immediate,
         promised_limit, statutory_limit, promised_due, statutory_due, promised_trace, statutory_trace, years,
         suspended, suspensions, paused, next_check) = row
        if locked:
            self._next_checks[(t, app)] = next_check
        return CaseFacts(t, app, CaseStage(stage), number, item, dept, channel, received_on, received_by, deemed,
                         accepted_by, immediate, promised_limit, statutory_limit, promised_due, statutory_due,
                         promised_trace, statutory_trace, tuple(years or ()), suspended, suspensions, paused)

    def upsert_case(self, tenant: str, application_id: str, stage: CaseStage | None, values: dict[str, Any],
                    *, only_from: tuple[CaseStage, ...] = ()) -> None:
        """Create the case (with `stage`, or 'received') or update `values`; the stage moves only from one of
        `only_from` (events arrive in any order: a late 'received' never takes an accepted case back)."""
        cols = sorted(values)
        insert_cols = ", ".join(["tenant_code", "application_id", "stage", *cols])
        insert_vals = ", ".join([":t", ":a", ":stage", *[f":{c}" for c in cols]])
        sets = [f"{c} = EXCLUDED.{c}" for c in cols] + ["updated_at = now()"]
        if stage is not None:
            moves = ", ".join(f"'{s}'" for s in only_from) or "NULL"
            sets.append(f"stage = CASE WHEN {S}.cases.stage IN ({moves}) THEN EXCLUDED.stage ELSE {S}.cases.stage END")
        self.u.execute(sql(f"INSERT INTO {S}.cases ({insert_cols}) VALUES ({insert_vals})"
                           f" ON CONFLICT (tenant_code, application_id) DO UPDATE SET {', '.join(sets)}"),
                       {"t": tenant, "a": application_id, "stage": str(stage or CaseStage.RECEIVED), **values})

    def update_case(self, tenant: str, application_id: str, assignments: str, params: dict[str, Any]) -> None:
        self.u.execute(sql(f"UPDATE {S}.cases SET {assignments}, updated_at = now()"
                           " WHERE tenant_code = :t AND application_id = :a"),
                       {"t": tenant, "a": application_id, **params})

    def accepted_on(self, tenant: str, application_id: str) -> tuple[dt.date | None, dt.date | None, dt.date | None]:
        row = self.u.row(sql(f"SELECT accepted_on, promised_due, statutory_due FROM {S}.cases"
                             " WHERE tenant_code = :t AND application_id = :a"), {"t": tenant, "a": application_id})
        return (row[0], row[1], row[2]) if row else (None, None, None)

    def set_next_check(self, tenant: str, application_id: str, on: dt.date | None) -> None:
        """The case's next threshold for the sweep; nothing is sent when the locked row read in this transaction
        already says so (4 or 5 of a lifecycle's 11 evaluations, issue 22)."""
        key = (tenant, application_id)
        if key in self._next_checks and self._next_checks[key] == on:
            return
        self._next_checks.pop(key, None)
        self.u.execute(sql(f"UPDATE {S}.cases SET next_check_on = :on WHERE tenant_code = :t AND application_id = :a"
                           " AND next_check_on IS DISTINCT FROM :on"), {"t": tenant, "a": application_id, "on": on})

    def held_steps(self, tenant: str, application_id: str) -> list[StepFacts]:
        rows = self.u.rows(sql(f"SELECT step_id, kind, desk, holder, holder_name, claimed_on FROM {S}.steps"
                               " WHERE tenant_code = :t AND application_id = :a AND done_at IS NULL"
                               " AND released_at IS NULL ORDER BY claimed_at"), {"t": tenant, "a": application_id})
        return [StepFacts(*r) for r in rows]

    def claim_step(self, tenant: str, application_id: str, case_number: str, step_id: str, kind: str, desk: str,
                   holder: str, holder_name: str, at: dt.datetime) -> None:
        self.u.execute(sql(
            f"INSERT INTO {S}.steps (tenant_code, step_id, application_id, case_number, kind, desk, holder,"
            " holder_name, claimed_at, claimed_on) VALUES (:t, :s, :a, :n, :k, :d, :h, :hn, :at, :on)"
            " ON CONFLICT (tenant_code, step_id) DO UPDATE SET holder = EXCLUDED.holder,"
            " holder_name = EXCLUDED.holder_name, claimed_at = EXCLUDED.claimed_at, claimed_on = EXCLUDED.claimed_on,"
            " released_at = NULL WHERE steps.claimed_at <= EXCLUDED.claimed_at"),
            {"t": tenant, "s": step_id, "a": application_id, "n": case_number, "k": kind, "d": desk, "h": holder,
             "hn": holder_name, "at": at, "on": at.date()})

    def release_step(self, tenant: str, step_id: str, at: dt.datetime) -> None:
        self.u.execute(sql(f"UPDATE {S}.steps SET released_at = :at WHERE tenant_code = :t AND step_id = :s"
                           " AND claimed_at <= :at"), {"t": tenant, "s": step_id, "at": at})

    def finish_steps(self, tenant: str, application_id: str, at: dt.datetime, *, holder: str = "",
                     kinds: tuple[str, ...] = ()) -> None:
        extra = ""
        params: dict[str, Any] = {"t": tenant, "a": application_id, "at": at}
        if holder:
            extra += " AND holder = :h"
            params["h"] = holder
        if kinds:
            extra += " AND kind = ANY(:k)"
            params["k"] = list(kinds)
        self.u.execute(sql(f"UPDATE {S}.steps SET done_at = :at WHERE tenant_code = :t AND application_id = :a"
                           f" AND done_at IS NULL{extra}"), params)

    # -- cards -------------------------------------------------------------------------------------------------
    def open_cards(self, tenant: str, application_id: str) -> list[CardRow]:
        rows = self.u.rows(sql(f"SELECT {_CARD_COLUMNS} FROM {S}.cards WHERE tenant_code = :t AND application_id = :a"
                               " AND status = 'open' AND subject_kind <> 'calendar'"),
                           {"t": tenant, "a": application_id})
        return [_card(r) for r in rows]

    def raise_card(self, tenant: str, case: CaseFacts, w: WantedCard, text: str, today: dt.date,
                   now: dt.datetime) -> CardRow:
        card_id = str(uuid.uuid4())
        row = self.u.row(sql(
            f"INSERT INTO {S}.cards (id, tenant_code, rule_id, severity, status, subject_kind, subject_ref,"
            " application_id, case_number, item_name, department, post, post_holder, post_holder_name, due, trace,"
            " text, raised_on, raised_at) VALUES (:id, :t, :rule, :sev, 'open', :sk, :sr, :a, :n, :item, :dept, :post,"
            f" :ph, :phn, :due, :trace, :text, :on, :at) RETURNING {_CARD_COLUMNS}"),
            {"id": card_id, "t": tenant, "rule": w.rule_id, "sev": str(w.severity), "sk": w.subject_kind,
             "sr": w.subject_ref, "a": case.application_id, "n": case.case_number, "item": case.item_name,
             "dept": case.department, "post": w.post, "ph": w.post_holder, "phn": w.post_holder_name, "due": w.due,
             "trace": w.trace, "text": text, "on": today, "at": now})
        assert row is not None
        return _card(row)

    def close_card(self, card_id: str, reason: str, now: dt.datetime) -> None:
        self.u.execute(sql(f"UPDATE {S}.cards SET status = 'closed', closed_at = :at, closed_reason = :r"
                           " WHERE id = :id AND status = 'open'"), {"id": card_id, "at": now, "r": reason})

    def calendar_card(self, tenant: str, year: int) -> CardRow | None:
        row = self.u.row(sql(f"SELECT {_CARD_COLUMNS} FROM {S}.cards WHERE tenant_code = :t AND rule_id = :r"
                             " AND subject_ref = :s AND status = 'open' FOR UPDATE"),
                         {"t": tenant, "r": "calendar-provisional", "s": f"calendar:{year}"})
        return _card(row) if row else None

    def raise_calendar_card(self, tenant: str, year: int, text: str, trace: str, cases: list[str], today: dt.date,
                            now: dt.datetime, publisher: str = "") -> CardRow:
        row = self.u.row(sql(
            f"INSERT INTO {S}.cards (id, tenant_code, rule_id, severity, status, subject_kind, subject_ref, post,"
            " post_holder, due, trace, text, cases, raised_on, raised_at) VALUES (:id, :t, 'calendar-provisional',"
            " 'yellow', 'open', 'calendar', :s, 'calendar', :ph, :due, :trace, :text, CAST(:cases AS jsonb), :on, :at)"
            f" RETURNING {_CARD_COLUMNS}"),
            {"id": str(uuid.uuid4()), "t": tenant, "s": f"calendar:{year}", "due": dt.date(year, 1, 1),
             "ph": publisher, "trace": trace, "text": text, "cases": json.dumps(cases), "on": today, "at": now})
        assert row is not None
        return _card(row)

    def close_calendar_card(self, card_id: str, publisher: str, reason: str, now: dt.datetime) -> None:
        """A calendar card closed by the publication of its year, naming who published it."""
        self.u.execute(sql(f"UPDATE {S}.cards SET status = 'closed', closed_at = :at, closed_reason = :r,"
                           " post_holder = CASE WHEN :by = '' THEN post_holder ELSE :by END"
                           " WHERE id = :id AND status = 'open'"),
                       {"id": card_id, "at": now, "r": reason, "by": publisher})

    def set_card_cases(self, card_id: str, cases: list[str]) -> None:
        self.u.execute(sql(f"UPDATE {S}.cards SET cases = CAST(:c AS jsonb) WHERE id = :id"),
                       {"id": card_id, "c": json.dumps(sorted(set(cases)))})

    def card(self, card_id: str) -> CardRow | None:
        row = self.u.row(sql(f"SELECT {_CARD_COLUMNS} FROM {S}.cards WHERE id = :id"), {"id": card_id})
        return _card(row) if row else None

    def list_cards(self, *, unit: str, status: str, severity: str, rule_id: str, case_number: str, post_holder: str,
                   limit: int, offset: int) -> tuple[list[CardRow], int]:
        where, params = ["tenant_code LIKE :unit || '%'"], {"unit": unit, "lim": limit, "off": offset}
        for col, value in (("status", status), ("severity", severity), ("rule_id", rule_id),
                           ("case_number", case_number), ("post_holder", post_holder)):
            if value:
                where.append(f"{col} = :{col}")
                params[col] = value
        cond = " AND ".join(where)
        rows = self.u.rows(sql(f"SELECT {_CARD_COLUMNS}, count(*) OVER () FROM {S}.cards WHERE {cond}"
                               " ORDER BY raised_at DESC, id LIMIT :lim OFFSET :off"), params)
        total = rows[0][-1] if rows else 0
        return [_card(r[:-1]) for r in rows], int(total)

    # -- deadline watches (complaints, rectifications) -----------------------------------------------------------
    def upsert_watch(self, tenant: str, watch_id: str, rule_id: str, kind: str, number: str, label: str,
                     post_holder: str, department: str, due_on: dt.date, *, reopen: bool = False) -> None:
        self.u.execute(sql(
            f"INSERT INTO {S}.watches (tenant_code, watch_id, rule_id, subject_kind, number, label, post_holder,"
            " department, due_on) VALUES (:t, :w, :r, :k, :n, :l, :h, :d, :due) ON CONFLICT (tenant_code, watch_id)"
            " DO UPDATE SET due_on = EXCLUDED.due_on, updated_at = now(),"
            " post_holder = CASE WHEN EXCLUDED.post_holder = '' THEN watches.post_holder ELSE EXCLUDED.post_holder END"
            + (", done_at = NULL" if reopen else "")),
            {"t": tenant, "w": watch_id, "r": rule_id, "k": kind, "n": number, "l": label, "h": post_holder,
             "d": department, "due": due_on})

    def watch_holder(self, tenant: str, prefix: str, holder: str) -> list[str]:
        rows = self.u.rows(sql(f"UPDATE {S}.watches SET post_holder = :h WHERE tenant_code = :t"
                               " AND watch_id LIKE :p || '%' RETURNING watch_id"),
                           {"t": tenant, "p": prefix, "h": holder})
        return [r[0] for r in rows]

    def watch_done(self, tenant: str, watch_ids: list[str], at: dt.datetime) -> None:
        self.u.execute(sql(f"UPDATE {S}.watches SET done_at = coalesce(done_at, :at) WHERE tenant_code = :t"
                           " AND watch_id = ANY(:w)"), {"t": tenant, "w": watch_ids, "at": at})

    def watch(self, tenant: str, watch_id: str) -> tuple | None:
        return self.u.row(sql(f"SELECT watch_id, rule_id, subject_kind, number, label, post_holder, department, due_on,"
                              f" done_at FROM {S}.watches WHERE tenant_code = :t AND watch_id = :w FOR UPDATE"),
                          {"t": tenant, "w": watch_id})

    def set_watch_next(self, tenant: str, watch_id: str, on: dt.date | None) -> None:
        self.u.execute(sql(f"UPDATE {S}.watches SET next_check_on = :on WHERE tenant_code = :t AND watch_id = :w"),
                       {"t": tenant, "w": watch_id, "on": on})

    def due_watches(self, today: dt.date, limit: int) -> list[tuple[str, str]]:
        self.u.widen(THRESHOLD_SWEEP, on="on")
        return [(r[0], r[1]) for r in self.u.rows(sql(
            f"SELECT tenant_code, watch_id FROM {S}.watches WHERE next_check_on <= :d ORDER BY next_check_on"
            " LIMIT :lim"), {"d": today, "lim": limit})]

    # -- 好差评 ---------------------------------------------------------------------------------------------------
    def upsert_rating(self, tenant: str, rating_id: str, values: dict[str, Any]) -> None:
        cols = sorted(values)
        self.u.execute(sql(
            f"INSERT INTO {S}.ratings (tenant_code, rating_id, {', '.join(cols)})"
            f" VALUES (:t, :r, {', '.join(':' + c for c in cols)}) ON CONFLICT (tenant_code, rating_id) DO UPDATE SET "
            + ", ".join([*(f"{c} = EXCLUDED.{c}" for c in cols), "updated_at = now()"])),
            {"t": tenant, "r": rating_id, **values})

    def rating_rectified(self, tenant: str, rating_id: str, at: dt.datetime) -> None:
        self.u.execute(sql(
            f"INSERT INTO {S}.ratings (tenant_code, rating_id, rectified_at) VALUES (:t, :r, :at)"
            " ON CONFLICT (tenant_code, rating_id) DO UPDATE SET"
            " rectified_at = coalesce(ratings.rectified_at, EXCLUDED.rectified_at), updated_at = now()"),
            {"t": tenant, "r": rating_id, "at": at})

    def rating_stats(self, by: str, unit: str, month: str, *, public: bool = False) -> dict[str, dict[str, int]]:
        """好差评 per group over the ratings given in `month` under `unit`, leaving out those an upheld appeal took
        out of the figures: how many, how many 非常满意 + 满意, how many 差评 and how many of those rectified."""
        if public:
            self.u.widen(PUBLIC_STATS, on="on")
        key = {"unit": "tenant_code", "department": "department", "item": "item_name", "staff": "staff",
               "month": "to_char(rated_on, 'YYYY-MM')"}[by]
        month_cond = "" if by == "month" else " AND to_char(rated_on, 'YYYY-MM') = :m"
        rows = self.u.mappings(sql(
            f"SELECT {key} AS key, count(*) AS ratings, count(*) FILTER (WHERE level <= 2) AS satisfied,"
            " count(*) FILTER (WHERE level >= 4) AS bad,"
            " count(*) FILTER (WHERE level >= 4 AND rectified_at IS NOT NULL) AS rectified"
            f" FROM {S}.ratings WHERE tenant_code LIKE :u || '%' AND level IS NOT NULL AND NOT appeal_upheld"
            f"{month_cond} GROUP BY 1"), {"u": unit, "m": month})
        return {r["key"] or "": r for r in rows}

    # -- the sweep (machine work) --------------------------------------------------------------------------------
    def due_cases(self, today: dt.date, limit: int) -> list[tuple[str, str]]:
        self.u.widen(THRESHOLD_SWEEP, on="on")
        return [(r[0], r[1]) for r in self.u.rows(sql(
            f"SELECT tenant_code, application_id FROM {S}.cases WHERE next_check_on <= :d ORDER BY next_check_on"
            " LIMIT :lim"), {"d": today, "lim": limit})]

    def cases_checked_between(self, region: str, first: dt.date, last: dt.date) -> list[tuple[str, str]]:
        """The cases under `region` whose next threshold falls in [first, last] (the `next_check_on` index): the
        cases a newly published calendar year can move."""
        self.u.widen(THRESHOLD_SWEEP, on="on")
        return [(r[0], r[1]) for r in self.u.rows(sql(
            f"SELECT tenant_code, application_id FROM {S}.cases WHERE next_check_on BETWEEN :a AND :b"
            " AND tenant_code LIKE :r || '%' ORDER BY next_check_on"), {"a": first, "b": last, "r": region})]

    def open_calendar_cards(self, region: str, year: int) -> list[tuple[str, str]]:
        """(tenant, card id) of the open calendar cards of `year` under `region`."""
        self.u.widen(THRESHOLD_SWEEP, on="on")
        return [(r[0], str(r[1])) for r in self.u.rows(sql(
            f"SELECT tenant_code, id FROM {S}.cards WHERE status = 'open' AND rule_id = 'calendar-provisional'"
            " AND subject_ref = :s AND tenant_code LIKE :r || '%'"), {"s": f"calendar:{year}", "r": region})]

    def overdue_orders(self, today: dt.date) -> list[tuple[str, str]]:
        self.u.widen(THRESHOLD_SWEEP, on="on")
        return [(r[0], str(r[1])) for r in self.u.rows(sql(
            f"SELECT tenant_code, id FROM {S}.orders WHERE status = 'issued' AND reply_due < :d"), {"d": today})]

    def chained_tenants(self) -> list[str]:
        self.u.widen(THRESHOLD_SWEEP, on="on")
        return [r[0] for r in self.u.rows(sql(f"SELECT tenant_code FROM {S}.chain_tips"))]

    # -- orders ------------------------------------------------------------------------------------------------
    def order_by_key(self, tenant: str, key: str) -> OrderRow | None:
        row = self.u.row(sql(f"SELECT {_ORDER_COLUMNS} FROM {S}.orders o LEFT JOIN {S}.order_replies r"
                             " ON r.order_id = o.id WHERE o.tenant_code = :t AND o.idempotency_key = :k"),
                         {"t": tenant, "k": key})
        return _order(row) if row else None

    def order(self, order_id: str, *, lock: bool = False) -> OrderRow | None:
        row = self.u.row(sql(f"SELECT {_ORDER_COLUMNS} FROM {S}.orders o LEFT JOIN {S}.order_replies r"
                             " ON r.order_id = o.id WHERE o.id = :id" + (" FOR UPDATE OF o" if lock else "")),
                         {"id": order_id})
        return _order(row) if row else None

    def next_order_number(self, tenant: str, year: int) -> str:
        n = self.u.value(sql(f"SELECT count(*) + 1 FROM {S}.orders WHERE tenant_code = :t"
                             " AND extract(year FROM issued_on) = :y"), {"t": tenant, "y": year})
        return f"督办〔{year}〕{tenant}-{int(n):04d}号"

    def insert_order(self, values: dict[str, Any]) -> None:
        cols = sorted(values)
        self.u.execute(sql(f"INSERT INTO {S}.orders ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"),
                       values)

    def insert_reply(self, values: dict[str, Any]) -> None:
        cols = sorted(values)
        self.u.execute(sql(f"INSERT INTO {S}.order_replies ({', '.join(cols)})"
                           f" VALUES ({', '.join(':' + c for c in cols)})"), values)

    def set_order_status(self, order_id: str, status: str, *, escalated_to: str = "",
                         at: dt.datetime | None = None) -> None:
        self.u.execute(sql(f"UPDATE {S}.orders SET status = :s, escalated_to = CASE WHEN :e = '' THEN escalated_to"
                           " ELSE :e END, escalated_at = coalesce(:at, escalated_at) WHERE id = :id"),
                       {"id": order_id, "s": status, "e": escalated_to, "at": at})

    def list_orders(self, tenant: str, status: str, limit: int, offset: int) -> tuple[list[OrderRow], int]:
        cond = "(o.tenant_code LIKE :t || '%' OR o.unit_tenant = :t)" + (" AND o.status = :s" if status else "")
        rows = self.u.rows(sql(f"SELECT {_ORDER_COLUMNS}, count(*) OVER () FROM {S}.orders o LEFT JOIN"
                               f" {S}.order_replies r ON r.order_id = o.id WHERE {cond}"
                               " ORDER BY o.issued_at DESC LIMIT :lim OFFSET :off"),
                           {"t": tenant, "s": status, "lim": limit, "off": offset})
        return [_order(r[:-1]) for r in rows], int(rows[0][-1]) if rows else 0

    # -- accountability ----------------------------------------------------------------------------------------
    def insert_accountability(self, values: dict[str, Any]) -> dict[str, Any]:
        cols = sorted(values)
        row = self.u.mapping(sql(f"INSERT INTO {S}.accountability ({', '.join(cols)})"
                                 f" VALUES ({', '.join(':' + c for c in cols)}) RETURNING *"), values)
        assert row is not None
        return row

    def list_accountability(self, person: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        rows = self.u.mappings(sql(f"SELECT *, count(*) OVER () AS total FROM {S}.accountability"
                                   " WHERE (:p = '' OR person = :p) ORDER BY recorded_at DESC LIMIT :lim OFFSET :off"),
                               {"p": person, "lim": limit, "off": offset})
        return rows, int(rows[0]["total"]) if rows else 0

    # -- statistics --------------------------------------------------------------------------------------------
    def stats(self, by: str, unit: str, month: str, *, public: bool = False) -> list[dict[str, Any]]:
        """Counts per group over the cases accepted in `month` under `unit` (a prefix)."""
        if public:
            self.u.widen(PUBLIC_STATS, on="on")
        key = {"unit": "c.tenant_code", "department": "c.department", "item": "c.item_name",
               "staff": "coalesce(nullif(c.decided_by, ''), c.accepted_by)",
               "month": "to_char(c.accepted_on, 'YYYY-MM')"}[by]
        month_cond = "" if by == "month" else " AND to_char(c.accepted_on, 'YYYY-MM') = :m"
        return self.u.mappings(sql(
            f"SELECT {key} AS key, count(*) FILTER (WHERE c.accepted_on IS NOT NULL) AS accepted,"
            " count(*) FILTER (WHERE c.decided_on IS NOT NULL) AS decided,"
            " count(*) FILTER (WHERE c.stage IN ('completed','delivered')) AS completed,"
            " count(*) FILTER (WHERE c.late_promised = false) AS on_time_promised,"
            " count(*) FILTER (WHERE c.late_statutory = false) AS on_time_statutory,"
            " avg(c.working_days) FILTER (WHERE c.working_days IS NOT NULL) AS avg_working_days,"
            " avg(c.promised_limit) FILTER (WHERE c.promised_limit > 0) AS avg_promised,"
            " avg(c.statutory_limit) FILTER (WHERE c.statutory_limit > 0) AS avg_statutory,"
            " count(*) FILTER (WHERE c.immediate) AS immediate,"
            " count(*) FILTER (WHERE c.delivery_method IN ('post', 'online', 'ems', '4')"
            "   OR (c.corrections = 0 AND c.immediate)) AS one_visit,"
            " coalesce(sum(c.corrections), 0) AS corrections, coalesce(sum(c.waived), 0) AS waived,"
            " count(*) FILTER (WHERE c.proxy_tenant <> '') AS proxied, coalesce(sum(c.fees_fen), 0) AS fees_fen"
            f" FROM {S}.cases c WHERE c.tenant_code LIKE :u || '%'{month_cond} AND c.accepted_on IS NOT NULL"
            f" GROUP BY 1 ORDER BY 1"), {"u": unit, "m": month})

    def complaint_stats(self, by: str, unit: str, month: str) -> dict[str, dict[str, int]]:
        """Complaints per unit or department whose deadlines fall in `month` (the watches): how many, how many
        results were given on time (the 差评 rectification rate is the ratings', `rating_stats`)."""
        key = {"unit": "tenant_code", "department": "department"}.get(by)
        if key is None:
            return {}
        rows = self.u.mappings(sql(
            f"SELECT {key} AS key, count(DISTINCT number) FILTER (WHERE subject_kind = 'complaint') AS complaints,"
            " count(*) FILTER (WHERE rule_id = 'complaint-result') AS results,"
            " count(*) FILTER (WHERE rule_id = 'complaint-result' AND done_at IS NOT NULL"
            "   AND (done_at AT TIME ZONE 'Asia/Shanghai')::date <= due_on) AS results_on_time"
            f" FROM {S}.watches WHERE tenant_code LIKE :u || '%' AND subject_kind = 'complaint'"
            " AND to_char(due_on, 'YYYY-MM') = :m GROUP BY 1"),
            {"u": unit, "m": month})
        return {r["key"] or "": r for r in rows}

    def cards_by_rule(self, by: str, unit: str, month: str, *, public: bool = False) -> dict[str, dict[str, int]]:
        if public:
            self.u.widen(PUBLIC_STATS, on="on")
        key = {"unit": "k.tenant_code", "department": "k.department", "item": "k.item_name",
               "staff": "k.post_holder", "month": "to_char(k.raised_on, 'YYYY-MM')"}[by]
        month_cond = "" if by == "month" else " AND to_char(k.raised_on, 'YYYY-MM') = :m"
        out: dict[str, dict[str, int]] = {}
        for key_value, rule, n in self.u.rows(sql(
                f"SELECT {key}, k.rule_id, count(*) FROM {S}.cards k WHERE k.tenant_code LIKE :u || '%'{month_cond}"
                " GROUP BY 1, 2"), {"u": unit, "m": month}):
            out.setdefault(key_value or "", {})[rule] = int(n)
        return out
