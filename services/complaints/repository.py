"""Persistence of the complaints schema. Repositories never commit: the handler's unit of work does.

Row-level security decides which rows exist for the current transaction (migration 0001); the public
follow-up and the public rating open a named scope (`FOLLOW_UP`, `CASE_PROOF`) whose policy needs both the
number and its secret (the follow code; the ID suffix), so the scope shows one row or none.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from shared.db import RlsScope, UnitOfWork

S = "complaints"
FOLLOW_UP = RlsScope("public complaint follow-up", {"number": "app.follow_number", "code": "app.follow_code"})
CASE_PROOF = RlsScope("public case rating", {"case_number": "app.rate_case", "suffix": "app.rate_suffix"})


@dataclass
class RecordRow:
    kind: str
    at: dt.datetime
    by: str
    by_name: str
    text: str
    on_day: dt.date | None
    method: str
    public: bool


@dataclass
class DepartmentRow:
    department: str
    lead: bool
    report: str
    reported_at: dt.datetime | None


@dataclass
class FollowUpRow:
    id: str
    promise: str
    due_on: dt.date
    method: str
    visited_at: dt.datetime | None
    visited_by: str
    result: str


@dataclass
class ComplaintRow:
    id: str
    tenant_code: str
    number: str
    follow_code: str
    channel: str
    kind: str
    status: str
    category: str
    content: str
    anonymous: bool
    complainant_name: str
    complainant_phone: str
    complainant_id_number: str
    subject_tenant: str
    subject_department: str
    subject_case_number: str
    subject_item_id: str
    subject_window: str
    subject_staff: str
    filed_by_tenant: str
    filed_by: str
    handler: str
    handler_name: str
    assigned_at: dt.datetime | None
    received_at: dt.datetime
    received_on: dt.date
    progress_due: dt.date
    result_due: dt.date
    due_trace: str
    provisional: bool
    progress_reported_at: dt.datetime | None
    extension: dict | None
    extensions: int
    outcome: str
    reply_channel: str
    reply: str
    replied_at: dt.datetime | None
    reopened: int
    round: int
    escalated_from: str
    escalated_to: str
    satisfaction: str
    external_id: str | None = None
    updated_at: dt.datetime | None = None
    counted_from: dt.date | None = None    # the day the current round's limits count from (set on reopening)
    records: list[RecordRow] = field(default_factory=list)
    departments: list[DepartmentRow] = field(default_factory=list)
    follow_ups: list[FollowUpRow] = field(default_factory=list)


@dataclass
class CaseRow:
    case_number: str
    tenant_code: str
    id_suffix: str
    item_id: str
    item_name: str
    department: str
    accepted_by: str
    decided_by: str
    accepted_at: dt.datetime | None
    completed_at: dt.datetime | None
    updated_at: dt.datetime | None = None


@dataclass
class RatingRow:
    id: str
    tenant_code: str
    channel: str
    level: int
    case_number: str
    id_suffix: str
    item_id: str
    item_name: str
    staff: str
    department: str
    indicators: dict
    text: str
    rater_name: str
    rater_phone: str
    rated_by: str
    created_at: dt.datetime
    appeal_status: str = "none"
    rectification_id: str = ""

    @property
    def counted(self) -> bool:
        return self.appeal_status != "upheld"


@dataclass
class RectificationRow:
    id: str
    tenant_code: str
    rating_id: str
    staff: str
    case_number: str
    id_suffix: str
    status: str
    due_on: dt.date
    due_trace: str
    verification: str
    measures: str
    answer: str
    answered_at: dt.datetime | None
    answered_by: str
    visit_required: bool
    visit_method: str
    visited_at: dt.datetime | None
    visit_result: str
    satisfaction: str
    rated_at: dt.datetime | None
    created_at: dt.datetime
    rating_level: int = 0


@dataclass
class AppealRow:
    id: str
    tenant_code: str
    rating_id: str
    reason: str
    evidence: str
    filed_by: str
    filed_at: dt.datetime
    upheld: bool | None = None
    decided_by: str = ""
    decided_at: dt.datetime | None = None
    note: str = ""

    @property
    def status(self) -> str:
        return "pending" if self.upheld is None else ("upheld" if self.upheld else "dismissed")


def _id(d: dict) -> dict:
    return {k: (str(v) if k in ("id", "rating_id", "complaint_id", "appeal_id") and v is not None else v)
            for k, v in d.items()}


_APPEAL = (f"(SELECT CASE WHEN d.upheld IS NULL AND a.id IS NULL THEN 'none' WHEN d.upheld IS NULL THEN 'pending'"
           f" WHEN d.upheld THEN 'upheld' ELSE 'dismissed' END FROM (SELECT 1) one"
           f" LEFT JOIN {S}.appeals a ON a.rating_id = r.id LEFT JOIN {S}.appeal_decisions d ON d.appeal_id = a.id)")
_RATING = (f"SELECT r.*, {_APPEAL} AS appeal_status,"
           f" coalesce((SELECT x.id::text FROM {S}.rectifications x WHERE x.rating_id = r.id), '') AS rectification_id"
           f" FROM {S}.ratings r")


class ComplaintsRepository:
    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    # -- complaints ---------------------------------------------------------------------------------
    def next_number_seq(self, tenant: str, day: dt.date) -> int:
        return self.uow.value(
            f"INSERT INTO {S}.complaint_sequences (tenant_code, day, last) VALUES (:t, :d, 1)"
            " ON CONFLICT (tenant_code, day) DO UPDATE SET last = complaint_sequences.last + 1 RETURNING last",
            {"t": tenant, "d": day})

    def add_complaint(self, **v: Any) -> None:
        cols = list(v)
        v = {**v, "extension": json.dumps(v["extension"]) if v.get("extension") is not None else None}
        self.uow.execute(f"INSERT INTO {S}.complaints ({', '.join(cols)}) VALUES"
                         f" ({', '.join(f'CAST(:{c} AS jsonb)' if c == 'extension' else ':' + c for c in cols)})", v)

    def find_external(self, external_id: str) -> ComplaintRow | None:
        d = self.uow.mapping(f"SELECT * FROM {S}.complaints WHERE external_id = :e", {"e": external_id})
        return self._complaint(d) if d else None

    def lock(self, complaint_id: str) -> bool:
        return self.uow.row(f"SELECT 1 FROM {S}.complaints WHERE id = :id AND tenant_code = current_setting("
                            "'app.tenant', true) FOR UPDATE", {"id": complaint_id}) is not None

    def complaint(self, complaint_id: str) -> ComplaintRow | None:
        d = self.uow.mapping(f"SELECT * FROM {S}.complaints WHERE id = :id", {"id": complaint_id})
        return self._with_parts(self._complaint(d)) if d else None

    def by_number(self, number: str) -> ComplaintRow | None:
        d = self.uow.mapping(f"SELECT * FROM {S}.complaints WHERE number = :n", {"n": number})
        return self._with_parts(self._complaint(d)) if d else None

    def update_complaint(self, complaint_id: str, **v: Any) -> None:
        if "extension" in v:
            v["extension"] = json.dumps(v["extension"], ensure_ascii=False) if v["extension"] is not None else None
        sets = ", ".join(f"{k} = CAST(:{k} AS jsonb)" if k == "extension" else f"{k} = :{k}" for k in v)
        self.uow.execute(f"UPDATE {S}.complaints SET {sets}, updated_at = now() WHERE id = :_id",
                         {**v, "_id": complaint_id})

    def list_complaints(self, status: str, unassigned_only: bool, limit: int,
                        offset: int) -> tuple[list[ComplaintRow], int]:
        where = ["(:s = '' OR status = :s)"]
        if unassigned_only:
            where.append("handler = ''")
        w = " AND ".join(where)
        rows = self.uow.mappings(f"SELECT * FROM {S}.complaints WHERE {w} ORDER BY received_at DESC, number"
                                 " LIMIT :l OFFSET :o", {"s": status, "l": limit, "o": offset})
        total = self.uow.value(f"SELECT count(*) FROM {S}.complaints WHERE {w}", {"s": status})
        return [self._complaint(d) for d in rows], int(total)

    # every open complaint whose dates may hang on a year not yet published: flagged provisional, or reopened or
    # extended (their rounds were counted apart and, before complaints 0003, never flagged)
    _OPEN_PROVISIONAL = ("status IN ('received','assigned','progressing')"
                         " AND (provisional OR reopened > 0 OR extensions > 0)")

    def tenants_with_provisional(self, region: str) -> list[str]:
        """The units under a region with open complaints whose time limits are provisional (the sweep's view:
        a transaction bound to the region with its subtree)."""
        return [r[0] for r in self.uow.rows(f"SELECT DISTINCT tenant_code FROM {S}.complaints WHERE"
                                            f" {self._OPEN_PROVISIONAL} AND tenant_code LIKE :r || '%'"
                                            " ORDER BY tenant_code", {"r": region})]

    def provisional_open(self, tenant: str) -> list[ComplaintRow]:
        return [self._complaint(d) for d in self.uow.mappings(
            f"SELECT * FROM {S}.complaints WHERE tenant_code = :t AND {self._OPEN_PROVISIONAL}"
            " ORDER BY id FOR UPDATE", {"t": tenant})]

    def add_record(self, tenant: str, complaint_id: str, kind: str, at: dt.datetime, *, by: str = "",
                   by_name: str = "", text: str = "", on_day: dt.date | None = None, method: str = "",
                   public: bool = False) -> None:
        self.uow.execute(f"INSERT INTO {S}.complaint_records (tenant_code, complaint_id, kind, at, by, by_name, text,"
                         " on_day, method, public) VALUES (:t, :c, :k, :at, :by, :bn, :tx, :on, :m, :p)",
                         {"t": tenant, "c": complaint_id, "k": kind, "at": at, "by": by, "bn": by_name, "tx": text,
                          "on": on_day, "m": method, "p": public})

    def add_department(self, tenant: str, complaint_id: str, department: str, lead: bool) -> None:
        self.uow.execute(f"INSERT INTO {S}.complaint_departments (tenant_code, complaint_id, department, lead)"
                         " VALUES (:t, :c, :d, :l) ON CONFLICT DO NOTHING",
                         {"t": tenant, "c": complaint_id, "d": department, "l": lead})

    def report_department(self, complaint_id: str, department: str, report: str, at: dt.datetime, by: str) -> int:
        return self.uow.execute(f"UPDATE {S}.complaint_departments SET report = :r, reported_at = :at,"
                                " reported_by = :by WHERE complaint_id = :c AND department = :d",
                                {"r": report, "at": at, "by": by, "c": complaint_id, "d": department})

    def add_follow_up(self, tenant: str, follow_up_id: str, complaint_id: str, promise: str, due_on: dt.date) -> None:
        self.uow.execute(f"INSERT INTO {S}.follow_ups (id, tenant_code, complaint_id, promise, due_on)"
                         " VALUES (:id, :t, :c, :p, :d)",
                         {"id": follow_up_id, "t": tenant, "c": complaint_id, "p": promise, "d": due_on})

    def visit_follow_up(self, follow_up_id: str, method: str, at: dt.datetime, by: str, result: str) -> None:
        self.uow.execute(f"UPDATE {S}.follow_ups SET method = :m, visited_at = :at, visited_by = :by, result = :r"
                         " WHERE id = :id", {"m": method, "at": at, "by": by, "r": result, "id": follow_up_id})

    def _complaint(self, d: dict) -> ComplaintRow:
        d = _id(d)
        return ComplaintRow(**d)

    def _with_parts(self, c: ComplaintRow) -> ComplaintRow:
        recs, deps, fus = self.uow.batch(
            (f"SELECT kind, at, by, by_name, text, on_day, method, public FROM {S}.complaint_records"
             " WHERE complaint_id = :c ORDER BY at, id", {"c": c.id}),
            (f"SELECT department, lead, report, reported_at FROM {S}.complaint_departments WHERE complaint_id = :c"
             " ORDER BY NOT lead, department", {"c": c.id}),
            (f"SELECT id::text, promise, due_on, method, visited_at, visited_by, result FROM {S}.follow_ups"
             " WHERE complaint_id = :c ORDER BY due_on, id", {"c": c.id}))
        c.records = [RecordRow(*r) for r in recs]
        c.departments = [DepartmentRow(*r) for r in deps]
        c.follow_ups = [FollowUpRow(*r) for r in fus]
        return c

    # -- cases (read model) -------------------------------------------------------------------------
    def upsert_case_accepted(self, *, case_number: str, tenant: str, id_suffix: str, item_id: str, item_name: str,
                             department: str, accepted_by: str, accepted_at: dt.datetime) -> None:
        self.uow.execute(
            f"INSERT INTO {S}.cases (case_number, tenant_code, id_suffix, item_id, item_name, department, accepted_by,"
            " accepted_at) VALUES (:n, :t, :s, :i, :iname, :d, :a, :at) ON CONFLICT (case_number) DO UPDATE SET"
            " id_suffix = EXCLUDED.id_suffix, item_id = EXCLUDED.item_id, item_name = EXCLUDED.item_name,"
            " department = EXCLUDED.department, accepted_by = EXCLUDED.accepted_by, accepted_at = EXCLUDED.accepted_at,"
            " updated_at = now()",
            {"n": case_number, "t": tenant, "s": id_suffix, "i": item_id, "iname": item_name, "d": department,
             "a": accepted_by, "at": accepted_at})

    def case_decided(self, case_number: str, tenant: str, decider: str) -> None:
        """A decision may arrive before the acceptance (events out of order): the row is made, not yet accepted."""
        self.uow.execute(f"INSERT INTO {S}.cases (case_number, tenant_code, decided_by) VALUES (:n, :t, :d)"
                         " ON CONFLICT (case_number) DO UPDATE SET decided_by = EXCLUDED.decided_by,"
                         " updated_at = now()",
                         {"n": case_number, "t": tenant, "d": decider})

    def case_completed(self, case_number: str, tenant: str, at: dt.datetime) -> None:
        self.uow.execute(f"INSERT INTO {S}.cases (case_number, tenant_code, completed_at) VALUES (:n, :t, :at)"
                         " ON CONFLICT (case_number) DO UPDATE SET completed_at = EXCLUDED.completed_at,"
                         " updated_at = now()", {"n": case_number, "t": tenant, "at": at})

    def case(self, case_number: str) -> CaseRow | None:
        d = self.uow.mapping(f"SELECT * FROM {S}.cases WHERE case_number = :n", {"n": case_number})
        return CaseRow(**d) if d else None

    # -- ratings ------------------------------------------------------------------------------------
    def add_rating(self, **v: Any) -> None:
        v = {**v, "indicators": json.dumps(v["indicators"])}
        cols = list(v)
        self.uow.execute(f"INSERT INTO {S}.ratings ({', '.join(cols)}) VALUES"
                         f" ({', '.join(f'CAST(:{c} AS jsonb)' if c == 'indicators' else ':' + c for c in cols)})", v)

    def count_figure(self, unit: str, item_id: str, level: int, total: int, counted: int, *,
                     real_name_bad: int = 0) -> None:
        self.uow.execute(f"INSERT INTO {S}.rating_figures (unit, item_id, level, total, counted, real_name_bad)"
                         " VALUES (:u, :i, :l, :t, :c, :rb) ON CONFLICT (unit, item_id, level) DO UPDATE SET"
                         " total = rating_figures.total + EXCLUDED.total,"
                         " counted = rating_figures.counted + EXCLUDED.counted,"
                         " real_name_bad = rating_figures.real_name_bad + EXCLUDED.real_name_bad",
                         {"u": unit, "i": item_id, "l": level, "t": total, "c": counted, "rb": real_name_bad})

    def count_visit(self, unit: str, item_id: str, level: int) -> None:
        self.uow.execute(f"UPDATE {S}.rating_figures SET visited = visited + 1"
                         " WHERE unit = :u AND item_id = :i AND level = :l", {"u": unit, "i": item_id, "l": level})

    def visit_figures(self, *, item_id: str = "", unit: str = "") -> tuple[int, int]:
        """(real-name 差评, of them with a return visit recorded) of an item or of a unit — counts only. Every
        real-name 差评 is owed its visit, an upheld appeal or not."""
        col, val = ("item_id", item_id) if item_id else ("unit", unit)
        row = self.uow.rows(f"SELECT coalesce(sum(real_name_bad), 0), coalesce(sum(visited), 0)"
                            f" FROM {S}.rating_figures WHERE {col} = :v", {"v": val})[0]
        return int(row[0]), int(row[1])

    def figures(self, *, item_id: str = "", unit: str = "") -> list[int]:
        """Counted ratings by level 1..5 of an item (every unit) or of a unit (every item)."""
        if item_id:
            rows = self.uow.rows(f"SELECT level, sum(counted) FROM {S}.rating_figures WHERE item_id = :i"
                                 " GROUP BY level", {"i": item_id})
        else:
            rows = self.uow.rows(f"SELECT level, sum(counted) FROM {S}.rating_figures WHERE unit = :u"
                                 " GROUP BY level", {"u": unit})
        out = [0, 0, 0, 0, 0]
        for level, n in rows:
            out[level - 1] = int(n)
        return out

    def rating(self, rating_id: str) -> RatingRow | None:
        d = self.uow.mapping(f"{_RATING} WHERE r.id = :id", {"id": rating_id})
        return RatingRow(**_id(d)) if d else None

    def case_rating(self, case_number: str, channel: str = "case") -> RatingRow | None:
        d = self.uow.mapping(f"{_RATING} WHERE r.case_number = :n AND r.channel = :c", {"n": case_number, "c": channel})
        return RatingRow(**_id(d)) if d else None

    def list_ratings(self, bad_only: bool, limit: int, offset: int) -> tuple[list[RatingRow], int]:
        w = "WHERE r.level >= 4" if bad_only else ""
        rows = self.uow.mappings(f"{_RATING} {w} ORDER BY r.created_at DESC, r.id LIMIT :l OFFSET :o",
                                 {"l": limit, "o": offset})
        total = self.uow.value(f"SELECT count(*) FROM {S}.ratings r {w}")
        return [RatingRow(**_id(d)) for d in rows], int(total)

    # -- rectifications -----------------------------------------------------------------------------
    def add_rectification(self, **v: Any) -> None:
        cols = list(v)
        self.uow.execute(f"INSERT INTO {S}.rectifications ({', '.join(cols)}) VALUES"
                         f" ({', '.join(':' + c for c in cols)})", v)

    _RECT = (f"SELECT x.*, r.level AS rating_level FROM {S}.rectifications x JOIN {S}.ratings r ON r.id = x.rating_id")

    def rectification(self, rectification_id: str, *, lock: bool = False) -> RectificationRow | None:
        if lock:
            self.uow.execute(f"SELECT 1 FROM {S}.rectifications WHERE id = :id AND tenant_code ="
                             " current_setting('app.tenant', true) FOR UPDATE", {"id": rectification_id})
        d = self.uow.mapping(f"{self._RECT} WHERE x.id = :id", {"id": rectification_id})
        return RectificationRow(**_id(d)) if d else None

    def rectification_of_rating(self, rating_id: str) -> RectificationRow | None:
        d = self.uow.mapping(f"{self._RECT} WHERE x.rating_id = :id", {"id": rating_id})
        return RectificationRow(**_id(d)) if d else None

    def list_rectifications(self, status: str) -> list[RectificationRow]:
        return [RectificationRow(**_id(d)) for d in self.uow.mappings(
            f"{self._RECT} WHERE (:s = '' OR x.status = :s) ORDER BY x.due_on, x.id", {"s": status})]

    def update_rectification(self, rectification_id: str, **v: Any) -> None:
        sets = ", ".join(f"{k} = :{k}" for k in v)
        self.uow.execute(f"UPDATE {S}.rectifications SET {sets} WHERE id = :_id", {**v, "_id": rectification_id})

    # -- appeals ------------------------------------------------------------------------------------
    _APPEALS = (f"SELECT a.*, d.upheld, coalesce(d.decided_by, '') AS decided_by, d.decided_at,"
                f" coalesce(d.note, '') AS note FROM {S}.appeals a LEFT JOIN {S}.appeal_decisions d"
                " ON d.appeal_id = a.id")

    def add_appeal(self, **v: Any) -> None:
        cols = list(v)
        self.uow.execute(f"INSERT INTO {S}.appeals ({', '.join(cols)}) VALUES"
                         f" ({', '.join(':' + c for c in cols)})", v)

    def appeal(self, appeal_id: str) -> AppealRow | None:
        d = self.uow.mapping(f"{self._APPEALS} WHERE a.id = :id", {"id": appeal_id})
        return AppealRow(**_id(d)) if d else None

    def list_appeals(self, pending_only: bool) -> list[AppealRow]:
        w = "WHERE d.appeal_id IS NULL" if pending_only else ""
        return [AppealRow(**_id(d)) for d in self.uow.mappings(f"{self._APPEALS} {w} ORDER BY a.filed_at, a.id")]

    def add_decision(self, **v: Any) -> None:
        cols = list(v)
        self.uow.execute(f"INSERT INTO {S}.appeal_decisions ({', '.join(cols)}) VALUES"
                         f" ({', '.join(':' + c for c in cols)})", v)
