"""Persistence of the intake schema. Repositories never commit: the handler's unit of work does.

An application is one row: the columns the service queries by (tenant, status, case number, the
due dates of the sweep, the query code's digest and the ID number of the public lookup, the proxy
request it was submitted for) and a JSON document with the rest of the aggregate. Row-level security
decides which rows exist for the transaction; the queries still filter by tenant where the use case
means it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy.exc import IntegrityError

from services.intake.applicants import Applicant
from services.intake.domain import REJECTION_PENDING, Application, Status
from services.intake.notices import NoticeTemplate
from services.intake.querycodes import query_code_digest
from services.intake.serialization import from_doc, to_doc
from shared.db import RlsScope, UnitOfWork

S = "intake"
# the RLS scopes of the intake schema's policies (migrations 0003: LOOKUP_READ, 0001: SWEEP_READ)
PROGRESS_LOOKUP = RlsScope("public progress lookup", {"case_number": "app.lookup_case",
                                                      "code_digest": "app.lookup_code",
                                                      "id_number": "app.lookup_id"})
DEADLINE_SWEEP = RlsScope("deadline sweep", {"on": "app.sweep"})
_ROW_COLUMNS = ("a.id, a.tenant_code, a.origin_tenant, a.idempotency_key, a.scenario_code, a.channel, a.status,"
                " a.case_number, a.received_at, a.received_on, a.decision_due, a.accepted_on, a.proxy_tenant,"
                " a.proxy_request_id")
_COLUMNS = f"{_ROW_COLUMNS}, a.doc"
# the notices of an application (without their frozen content), in the same statement
_NOTICES = (f"(SELECT coalesce(jsonb_agg(jsonb_build_object('id', n.id, 'kind', n.kind, 'template_version',"
            f" n.template_version, 'title', n.title, 'issued_at', n.issued_at) ORDER BY n.issued_at, n.id), '[]')"
            f" FROM {S}.notices n WHERE n.application_id = a.id)")
_DEADLINE_KINDS = ("decision", "promise")
# the lists count their rows up to this many: a year of a county is 100,000s of applications, and counting
# them all on every page is what made the window's list read the whole year (issue 22 item 4); above it a
# list says "1000+" (ListApplicationsResponse.total_capped)
LIST_TOTAL_CAP = 1000
_NEXT_SEQUENCE = f"SELECT {S}.next_case_sequence(:t, :y)"
_BY_KEY = (f"SELECT {_COLUMNS}, {_NOTICES} FROM {S}.applications a WHERE a.tenant_code = :t"
           " AND a.origin_tenant = :o AND a.idempotency_key = :k")
_PROFILE = f"SELECT data FROM {S}.applicant_profiles WHERE tenant_code = :t AND id_number = :n"
# the application made with a key (all NULL when there is none) and the applicant's profile, in one row
_RECEIPT = (f"SELECT {_COLUMNS}, {_NOTICES}, ({_PROFILE}) FROM (SELECT 1) AS one LEFT JOIN {S}.applications a"
            " ON a.tenant_code = :t AND a.origin_tenant = :o AND a.idempotency_key = :k")
Outbox = tuple[str, str, dict[str, Any]]     # `UnitOfWork.outbox_cte()`: the events, written with the statement
_NO_OUTBOX: Outbox = ("", "", {})
ADDED = "EXISTS (SELECT 1 FROM ins)"          # `add`'s condition for its events: the application went in


# A list row (ListApplications): the columns and the few fields of the document a list shows, read from the
# document once per row (jsonb_to_record: one detoast, where each `doc->…` would decompress it again) and sent as
# plain columns — not the whole document (the item's snapshot with its scenarios, the materials, the history),
# whose decoding into the aggregate was most of the window list's CPU, nor one JSON object a row, whose decoding
# was most of what was left (issue 22 item 4). GetApplication reads all.
_LISTING_RECORD = ("jsonb_to_record(a.doc) AS x(applicant jsonb, item jsonb, handling_unit_name text, accepted_at text,"
                   " deemed boolean, picked_up_at text, rejection jsonb, government_invested boolean,"
                   " key_construction boolean, collect_tenant text)")
_LISTING_COLUMNS = (", ".join(f"x.applicant->>'{f}'" for f in Applicant.PROFILE_FIELDS)
                    + ", (x.applicant->>'dishonest')::boolean, x.item->>'id', x.item->>'version', x.item->>'name',"
                    " x.item->>'case_kind', x.handling_unit_name, x.accepted_at, x.deemed, x.picked_up_at,"
                    " nullif(x.rejection, '{}'), x.government_invested, x.key_construction, x.collect_tenant")


PROXY_REQUEST_INDEX = "applications_proxy_request"     # migration 0003: one application per proxy request


class ProxyRequestTaken(Exception):
    """The proxy request named already names another application (the transaction is spent)."""


@dataclass
class ApplicationView:
    app: Application
    notices: list[dict] = field(default_factory=list)
    receipt_only: bool = False     # what a proxy point gets back: its submission, not the case file


def _view(r) -> ApplicationView:
    app = from_doc(
        id=str(r[0]), tenant=r[1], origin_tenant=r[2], idempotency_key=r[3], scenario_code=r[4], channel=r[5],
        status=r[6], case_number=r[7], received_at=r[8], received_on=r[9], decision_due=r[10], accepted_on=r[11],
        proxy_tenant=r[12], proxy_request_id=r[13], doc=r[14])
    return ApplicationView(app, list(r[15]))


class ApplicationListing(NamedTuple):
    """An application as a list shows it (ListApplications): what GetApplication gives of it but its
    materials, corrections, 容缺 promises, form, query code, notices and history. A named tuple, not a frozen
    dataclass: as immutable, and built four times faster (0.9 against 3.6 µs), which a page of 20 rows pays on
    every call of the list the window opens all day (issue 22 item 4)."""
    id: str
    tenant: str
    idempotency_key: str
    scenario_code: str
    channel: int
    status: Status
    case_number: str
    received_at: dt.datetime
    decision_due: dt.date | None
    accepted_on: dt.date | None
    proxy_tenant: str
    proxy_request_id: str
    item_id: str
    item_version: int
    item_name: str
    case_kind: str
    applicant: Applicant
    handling_unit_name: str
    accepted_at: dt.datetime | None
    deemed: bool
    picked_up_at: dt.datetime | None
    rejection: dict
    government_invested: bool
    key_construction: bool
    collect_tenant: str

    @property
    def rejection_pending(self) -> bool:
        return self.rejection.get("status") == REJECTION_PENDING


_STATUSES = {str(s): s for s in Status}     # a dict's lookup, not the enum's call (0.05 against 0.5 µs a row)


def _listing(r) -> ApplicationListing:
    """A list row (`_ROW_COLUMNS`, then `_LISTING_COLUMNS`), converted as `from_doc` (and `ItemSnapshot.from_dict`,
    `Applicant.from_dict`) convert the same fields of the whole document."""
    return ApplicationListing(
        id=str(r[0]), tenant=r[1], idempotency_key=r[3], scenario_code=r[4], channel=r[5], status=_STATUSES[r[6]],
        case_number=r[7] or "", received_at=r[8], decision_due=r[10], accepted_on=r[11], proxy_tenant=r[12] or "",
        proxy_request_id=r[13] or "",
        applicant=Applicant((r[14] or "").strip(), (r[15] or "").strip(), (r[16] or "").strip(), (r[17] or "").strip(),
                            (r[18] or "").strip(), (r[19] or "").strip(), (r[20] or "").strip(), bool(r[21])),
        item_id=r[22] or "", item_version=int(r[23] or 0), item_name=r[24] or "", case_kind=r[25] or "",
        handling_unit_name=r[26] or "", accepted_at=_datetime(r[27]), deemed=bool(r[28]),
        picked_up_at=_datetime(r[29]), rejection=dict(r[30] or {}), government_invested=bool(r[31]),
        key_construction=bool(r[32]), collect_tenant=r[33] or "")


def _datetime(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _params(a: Application) -> dict[str, Any]:
    due = {"decision": a.decision_due if a.status == Status.RECEIVED else None, "promise": a.promise_due}
    kinds = [k for k in _DEADLINE_KINDS if due[k] is not None]
    return {"id": a.id, "t": a.tenant, "origin": a.origin_tenant, "key": a.idempotency_key, "item": a.item.id,
            "ver": a.item.version, "name": a.item.name, "sc": a.scenario_code, "ch": a.channel, "st": str(a.status),
            "idn": a.applicant.id_number, "suffix": a.applicant.id_suffix, "case": a.case_number or None,
            "rat": a.received_at, "ron": a.received_on, "due": a.decision_due, "pdue": a.promise_due,
            "aon": a.accepted_on, "proxy": a.proxy_tenant or None, "preq": a.proxy_request_id or None,
            "collect": a.collect_tenant or None,
            "qch": query_code_digest(a.case_number, a.query_code) if a.case_number and a.query_code else None,
            "doc": json.dumps(to_doc(a), ensure_ascii=False),
            "dl_kinds": kinds, "dl_dates": [due[k] for k in kinds]}


# the sweep's due-time index kept in step with the application, in the same statement
_UPSERT_DEADLINES = (f"INSERT INTO {S}.deadlines (application_id, kind, tenant_code, due_on)"
                     " SELECT CAST(:id AS uuid), x.k, :t, x.d"
                     " FROM unnest(CAST(:dl_kinds AS text[]), CAST(:dl_dates AS date[])) AS x(k, d)")


def list_statement(tenant: str, *, subtree: bool, status: Status | None, limit: int,
                   offset: int) -> tuple[str, dict[str, Any]]:
    """A page of the tenant's applications as a list shows them (`ApplicationListing`), newest first, and their
    number counted up to LIST_TOTAL_CAP + 1 (a number above LIST_TOTAL_CAP means "more than LIST_TOTAL_CAP"), in one
    statement whose rows `listing_page` reads.

    A window's list holds what it collected for a higher level too (代收: read through their policy).
    It is read as two index-ordered scans, each stopping after offset + limit rows (indexes
    applications_window / applications_window_status / applications_collect_window, migrations 0006, 0008),
    merged: the page never reads the tenant's whole year, and neither does the capped count. A row both
    decided and collected by the tenant is taken from the first branch only."""
    params = {"t": tenant, "st": status and str(status), "lim": limit, "off": offset,
              "n": limit + offset, "cap": LIST_TOTAL_CAP + 1}
    branches = _branches(subtree, " AND a.status = :st" if status else "")
    page = " UNION ALL ".join(
        f"(SELECT {_COLUMNS} FROM {S}.applications a WHERE {b} ORDER BY a.received_at DESC, a.id LIMIT :n)"
        for b in branches)
    # the page and the capped count in one statement (one round trip): the count's row carries the page's rows,
    # or stands alone (its page columns NULL) when the page is empty
    return (f"SELECT p.*, t.n FROM (SELECT {_capped_count(branches, subtree)} AS n) t LEFT JOIN LATERAL ("
            f"SELECT {_ROW_COLUMNS}, {_LISTING_COLUMNS} FROM ({page}) a CROSS JOIN LATERAL"
            f" {_LISTING_RECORD} ORDER BY a.received_at DESC, a.id LIMIT :lim OFFSET :off) p ON true"
            " ORDER BY p.received_at DESC, p.id", params)


def _branches(subtree: bool, condition: str) -> list[str]:
    """The list's rows as the conditions of its index-ordered branches (`list_statement`), each with `condition`."""
    if subtree:      # a supervisor's subtree: every unit's rows under the code (RLS: the subtree scope)
        return [f"a.tenant_code LIKE :t || '%'{condition}"]
    return [f"a.tenant_code = :t{condition}", f"a.collect_tenant = :t AND a.tenant_code <> :t{condition}"]


def _capped_count(branches: list[str], subtree: bool) -> str:
    """The rows of the branches counted up to :cap (an expression): each branch stops after :cap rows."""
    # a window's count follows the window indexes too, index-only (they carry what the read policy looks at,
    # migration 0008): 1,001 entries of a dozen index pages, not the rows of ~1,000 table pages
    order = "" if subtree else " ORDER BY a.received_at DESC, a.id"
    counted = " + ".join(f"(SELECT count(*) FROM (SELECT 1 FROM {S}.applications a WHERE {b}{order}"
                         " LIMIT :cap) c)" for b in branches)
    return f"least({counted}, :cap)"


def count_statement(tenant: str, *, subtree: bool, statuses: Sequence[Status]) -> tuple[str, dict[str, Any]]:
    """How many of the list's applications (`list_statement`'s rows) are in each of `statuses`, each counted up
    to LIST_TOTAL_CAP + 1 as the list's total is: one row, a column per status in order. Each status's count
    reads the window's status index (applications_window_status) and the collected applications' index."""
    params: dict[str, Any] = {"t": tenant, "cap": LIST_TOTAL_CAP + 1}
    columns = []
    for i, status in enumerate(statuses):
        params[f"st{i}"] = str(status)
        columns.append(_capped_count(_branches(subtree, f" AND a.status = :st{i}"), subtree))
    return f"SELECT {', '.join(columns)}", params


def listing_page(rows: list[tuple]) -> tuple[list[ApplicationListing], int]:
    """`list_statement`'s rows: (the page, the capped count)."""
    total = rows[0][-1] if rows else 0
    return [_listing(r) for r in rows if r[0] is not None], total


class IntakeRepository:
    """Statements go to psycopg through the unit of work (`uow.row`, …): intake's submit and accept are
    the platform's busiest writes, and SQLAlchemy's per-statement machinery was a sixth of their CPU."""

    def __init__(self, uow: UnitOfWork):
        self.u = uow

    # -- applications ------------------------------------------------------------------------------
    def by_key(self, tenant: str, origin: str, key: str) -> ApplicationView | None:
        r = self.u.row(_BY_KEY, {"t": tenant, "o": origin, "k": key})
        return _view(r) if r else None

    def receipt(self, tenant: str, origin: str, key: str,
                id_number: str | None) -> tuple[ApplicationView | None, dict | None]:
        """What a window submission reads first: an application already made with this
        key, and the applicant's profile for prefill (`id_number` None: no profile is read)."""
        if not id_number:
            return self.by_key(tenant, origin, key), None
        r = self.u.row(_RECEIPT, {"t": tenant, "o": origin, "k": key, "n": id_number})
        assert r is not None                 # the LEFT JOIN gives one row, found or not
        return (_view(r) if r[0] is not None else None), r[16]

    def add(self, a: Application, profile: dict[str, str], outbox: Outbox = _NO_OUTBOX) -> bool:
        """Insert the application, its due date, the applicant's profile and `outbox` (the events of the
        receipt, `uow.outbox_cte(when=ADDED)`) in one statement; False when the (tenant, origin,
        idempotency key) is already taken (then nothing is written); ProxyRequestTaken when the proxy
        request it names already names another application, wherever that one is."""
        cte, column, outbox_params = outbox
        params = {**_params(a), "pid": profile["id_number"], "profile": json.dumps(profile, ensure_ascii=False),
                  **outbox_params}
        try:
            r = self._insert(params, cte, column)
        except IntegrityError as exc:
            if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) == PROXY_REQUEST_INDEX:
                raise ProxyRequestTaken(a.proxy_request_id) from None
            raise
        return r == 1

    def _insert(self, params: dict[str, Any], cte: str, column: str) -> int:
        return self.u.value(
            f"WITH ins AS (INSERT INTO {S}.applications (id, tenant_code, origin_tenant, idempotency_key, item_id,"
            " item_version, item_name, scenario_code, channel, status, applicant_id_number, applicant_id_suffix,"
            " case_number, received_at, received_on, decision_due, promise_due, accepted_on, proxy_tenant,"
            " proxy_request_id, collect_tenant, doc) VALUES (:id, :t, :origin, :key, :item, :ver, :name, :sc, :ch,"
            " :st, :idn, :suffix, :case, :rat, :ron, :due, :pdue, :aon, :proxy, :preq, :collect, CAST(:doc AS jsonb))"
            " ON CONFLICT (tenant_code, origin_tenant, idempotency_key) DO NOTHING RETURNING id),"
            f" dl AS ({_UPSERT_DEADLINES} WHERE EXISTS (SELECT 1 FROM ins)),"
            f" pr AS (INSERT INTO {S}.applicant_profiles (tenant_code, id_number, data)"
            " SELECT :t, :pid, CAST(:profile AS jsonb) WHERE EXISTS (SELECT 1 FROM ins)"
            f" ON CONFLICT (tenant_code, id_number) DO UPDATE SET data = EXCLUDED.data, updated_at = now()){cte}"
            f" SELECT count(*){column} FROM ins", params)

    def owner_of_collected(self, app_id: str, collector: str) -> str | None:
        """The deciding unit of an application `collector`'s window took in on its behalf (代收), or None."""
        r = self.u.row(f"SELECT tenant_code FROM {S}.applications WHERE id = :id AND collect_tenant = :c",
                       {"id": app_id, "c": collector})
        return r[0] if r else None

    def get(self, app_id: str, *, lock: bool = False, tenant: str | None = None) -> ApplicationView | None:
        query = f"SELECT {_COLUMNS}, {_NOTICES} FROM {S}.applications a WHERE a.id = :id"
        if tenant is not None:
            query += " AND a.tenant_code = :t"
        if lock:
            query += " FOR UPDATE OF a"
        r = self.u.row(query, {"id": app_id, "t": tenant})
        return _view(r) if r else None

    def by_case_number(self, tenant: str, case_number: str, *, lock: bool = False) -> ApplicationView | None:
        query = f"SELECT {_COLUMNS}, {_NOTICES} FROM {S}.applications a WHERE a.case_number = :c AND a.tenant_code = :t"
        if lock:
            query += " FOR UPDATE OF a"
        r = self.u.row(query, {"c": case_number, "t": tenant})
        return _view(r) if r else None

    def save(self, a: Application, new_notices: list[dict] | None = None, outbox: Outbox = _NO_OUTBOX) -> None:
        """Write the application back with its due-date index, any notices issued and `outbox` (the
        events of the change, `uow.outbox_cte()`), in one statement."""
        cte, column, outbox_params = outbox
        params = {**_params(a), "notices": json.dumps(new_notices or [], ensure_ascii=False, default=str),
                  **outbox_params}
        self.u.row(
            f"WITH upd AS (UPDATE {S}.applications SET status = :st, case_number = :case, decision_due = :due,"
            " promise_due = :pdue, accepted_on = :aon, query_code_hash = :qch, doc = CAST(:doc AS jsonb),"
            " updated_at = now()"
            " WHERE id = :id RETURNING id),"
            f" del AS (DELETE FROM {S}.deadlines WHERE application_id = :id"
            " AND NOT (kind = ANY(CAST(:dl_kinds AS text[])))),"
            f" dl AS ({_UPSERT_DEADLINES} ON CONFLICT (application_id, kind) DO UPDATE SET due_on = EXCLUDED.due_on),"
            f" nt AS (INSERT INTO {S}.notices (id, tenant_code, application_id, kind, template_version, title,"
            " issued_at, data) SELECT x.id, :t, CAST(:id AS uuid), x.kind, x.template_version, x.title, x.issued_at,"
            " x.data FROM jsonb_to_recordset(CAST(:notices AS jsonb)) AS x(id uuid, kind text, template_version int,"
            f" title text, issued_at timestamptz, data jsonb)){cte}"
            f" SELECT count(*){column} FROM upd", params)

    def list_for(self, tenant: str, *, subtree: bool, status: Status | None, limit: int,
                 offset: int) -> tuple[list[ApplicationListing], int]:
        """`list_statement` in this unit of work (the handler reads it in one round trip: Database.read_planned)."""
        return listing_page(self.u.rows_planned(*list_statement(tenant, subtree=subtree, status=status, limit=limit,
                                                                offset=offset)))

    def lookup(self, case_number: str, *, query_code: str = "", id_number: str = "") -> Application | None:
        """The public lookup: the transaction names the case and the digest of its query code (or the
        applicant's full ID number); RLS shows that row only, and only when the secret matches."""
        digest = query_code_digest(case_number, query_code) if query_code else ""
        self.u.widen(PROGRESS_LOOKUP, case_number=case_number, code_digest=digest, id_number=id_number)
        found = self.u.rows(f"SELECT {_COLUMNS}, '[]'::jsonb FROM {S}.applications a WHERE a.case_number = :c"
                            " AND (a.query_code_hash = :h OR a.applicant_id_number = :i)",
                            {"c": case_number, "h": digest or None, "i": id_number or None})
        return _view(found[0]).app if found else None

    # -- the sweep's index ---------------------------------------------------------------------------
    def tenants_with_due(self, today: dt.date) -> list[str]:
        """Machine work: which tenants have a decision or a 容缺 promise past due (index scan)."""
        self.u.widen(DEADLINE_SWEEP, on="on")
        found = self.u.rows(f"SELECT DISTINCT tenant_code FROM {S}.deadlines WHERE due_on < :d", {"d": today})
        return [r[0] for r in found]

    def due_in_tenant(self, tenant: str, today: dt.date, limit: int = 500) -> list[tuple[str, str]]:
        """(application id, kind) past due in one tenant, from the partial due-date indexes (the statuses are
        written into the statement, as the indexes' predicates name them, so that the planner uses them)."""
        rows = self.u.rows(
            f"(SELECT id, 'decision' FROM {S}.applications WHERE tenant_code = :t AND status = '{Status.RECEIVED}'"
            "   AND decision_due < :d ORDER BY decision_due LIMIT :lim)"
            f" UNION ALL (SELECT id, 'promise' FROM {S}.applications WHERE tenant_code = :t"
            f" AND status = '{Status.ACCEPTED}' AND promise_due < :d ORDER BY promise_due LIMIT :lim)",
            {"t": tenant, "d": today, "lim": limit})
        return [(str(r[0]), r[1]) for r in rows]

    # -- calendar re-projection (issue 23) -------------------------------------------------------------
    def tenants_awaiting_decision(self, region: str) -> list[str]:
        """Machine work, in a transaction bound to `region` with its subtree: the tenants under it with an
        application awaiting its acceptance decision (whose date counts working days)."""
        rows = self.u.rows(f"SELECT DISTINCT tenant_code FROM {S}.applications WHERE tenant_code LIKE :r"
                           f" AND status IN ('{Status.RECEIVED}', '{Status.CORRECTION}') ORDER BY tenant_code",
                           {"r": region + "%"})
        return [r[0] for r in rows]

    def awaiting_decision(self, tenant: str) -> list[ApplicationView]:
        """The tenant's applications awaiting their acceptance decision, locked for the re-projection."""
        rows = self.u.rows(f"SELECT {_COLUMNS}, {_NOTICES} FROM {S}.applications a WHERE a.tenant_code = :t"
                           f" AND a.status IN ('{Status.RECEIVED}', '{Status.CORRECTION}') ORDER BY a.id"
                           " FOR UPDATE OF a", {"t": tenant})
        return [_view(r) for r in rows]

    # -- case numbers --------------------------------------------------------------------------------
    def next_sequence(self, tenant: str, year: int) -> int:
        """The tenant's next case sequence for the year, from its PostgreSQL sequence (migration 0002):
        drawn in the caller's transaction without waiting on any other acceptance, never given twice."""
        return self.u.value(_NEXT_SEQUENCE, {"t": tenant, "y": year})

    # -- notices -------------------------------------------------------------------------------------
    def templates(self) -> dict[str, NoticeTemplate]:
        """The newest version of each notice template."""
        rows = self.u.rows(f"SELECT DISTINCT ON (kind) kind, version, title, body FROM {S}.notice_templates"
                           " ORDER BY kind, version DESC")
        return {r[0]: NoticeTemplate(r[0], r[1], r[2], r[3]) for r in rows}

    def notice(self, app_id: str, notice_id: str) -> dict | None:
        r = self.u.row(f"SELECT data FROM {S}.notices WHERE id = :n AND application_id = :a",
                       {"n": notice_id, "a": app_id})
        return r[0] if r else None

    # -- applicant profiles (prefill) ----------------------------------------------------------------
    def profile(self, tenant: str, id_number: str) -> dict | None:
        r = self.u.row(_PROFILE, {"t": tenant, "n": id_number})
        return r[0] if r else None
