"""Persistence of the fees schema. Repositories never commit: the handler's unit of work does.

Row-level security decides which rows exist for the current transaction; the queries below still
filter by tenant where the use case means it (both walls, each on its own).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from services.fees.assessment import FeeLine, LineStatus
from services.fees.catalogue import FeeDefinition, FeeItem, FeeStatus, FeeVersion, Standard, WaiverReason
from services.fees.domain import CaseFees, CaseStatus, saved_totals
from shared.db import UnitOfWork, sql
from shared.tenancy import DivisionCode

S = "fees"
# the cashier's list counts its cases up to this many: a county's year holds 10,000s of them in a status, and
# counting them all on every page was most of the list's database time (issue 22 item 4); above it the list
# says "1000+" (ListCasesResponse.total_capped)
LIST_TOTAL_CAP = 1000


@dataclass
class FeeItemRow:
    """One fee item version as read back."""

    id: str
    tenant: str
    version: int
    status: str
    definition: dict
    published_at: dt.datetime | None
    change_reason: str


@dataclass(frozen=True)
class TreasuryAccount:
    tenant: str
    payee_name: str
    account_number: str
    bank_name: str
    kind: str


_FEE_COLUMNS = "v.fee_item_id, v.tenant_code, v.version, v.status, v.definition, v.published_at, v.change_reason"


def _fee_row(r) -> FeeItemRow:
    return FeeItemRow(str(r[0]), r[1], r[2], r[3], r[4], r[5], r[6])


def ancestors_and_self(tenant: str) -> list[str]:
    code = DivisionCode(tenant)
    return [str(code), *(str(a) for a in code.ancestors())]


class FeesRepository:
    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    def lock(self, key: str) -> None:
        """A transaction-scoped advisory lock: serialises the notice's issue and its payment callbacks
        (whichever commits first, the other sees it)."""
        self.uow.execute(sql("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7))"), {"k": key})

    # -- fee catalogue ---------------------------------------------------------------------------
    def get_fee_item(self, item_id: str) -> FeeItem | None:
        head = self.uow.row(sql(f"SELECT id, tenant_code FROM {S}.fee_items WHERE id = :id FOR UPDATE"),
                            {"id": item_id})
        if head is None:
            return None
        rows = self.uow.rows(sql(f"SELECT version, status, definition, change_reason FROM {S}.fee_item_versions"
                                  " WHERE fee_item_id = :id ORDER BY version"), {"id": item_id})
        versions = [FeeVersion(r[0], FeeStatus(r[1]), FeeDefinition.from_dict(r[2]), r[3]) for r in rows]
        return FeeItem(str(head[0]), DivisionCode(head[1]), versions, stored=len(versions))

    def add_fee_item(self, item: FeeItem, actor: str, now: dt.datetime) -> None:
        v = item.current
        self.uow.execute(sql(f"INSERT INTO {S}.fee_items (id, tenant_code, fee_code, current_version, status,"
                              " created_at, updated_at) VALUES (:id, :t, :code, :v, :st, :now, :now)"),
                         {"id": item.id, "t": str(item.tenant), "code": v.definition.fee_code, "v": v.version,
                          "st": str(v.status), "now": now})
        self._write_versions(item, actor, now)

    def save_fee_item(self, item: FeeItem, actor: str, now: dt.datetime) -> None:
        """Write the item's state back: the versions read are updated, the new ones inserted."""
        cur = item.current
        self.uow.execute(sql(f"UPDATE {S}.fee_items SET current_version = :v, status = :st, updated_at = :now"
                              " WHERE id = :id"), {"id": item.id, "v": cur.version, "st": str(cur.status), "now": now})
        self._write_versions(item, actor, now)

    def _write_versions(self, item: FeeItem, actor: str, now: dt.datetime) -> None:
        """Dates are the platform clock's `now` (a drill's pinned day), never the database's."""
        for v in item.stored_versions:
            self.uow.execute(sql(
                f"UPDATE {S}.fee_item_versions SET status = :st, definition = CAST(:d AS jsonb), name = :name,"
                " change_reason = :reason,"
                " published_at = CASE WHEN :st = 'published' AND published_at IS NULL THEN CAST(:now AS timestamptz)"
                " ELSE published_at END,"
                " published_by = CASE WHEN :st = 'published' AND published_by IS NULL THEN :actor"
                " ELSE published_by END WHERE fee_item_id = :id AND version = :v"),
                {**self._version_params(item, v, actor), "now": now})
        for v in item.new_versions:
            self.uow.execute(sql(
                f"INSERT INTO {S}.fee_item_versions (fee_item_id, version, tenant_code, status, fee_code, name,"
                " definition, change_reason, created_by, published_at, published_by) VALUES (:id, :v, :t, :st, :code,"
                " :name, CAST(:d AS jsonb), :reason, :actor,"
                " CASE WHEN :st = 'published' THEN CAST(:now AS timestamptz) END,"
                " CASE WHEN :st = 'published' THEN :actor END)"), {**self._version_params(item, v, actor), "now": now})
        item.all_stored()

    def _version_params(self, item: FeeItem, v: FeeVersion, actor: str) -> dict:
        d = v.definition
        return {"id": item.id, "v": v.version, "t": str(item.tenant), "st": str(v.status), "code": d.fee_code,
                "name": d.name, "d": json.dumps(d.to_dict(), ensure_ascii=False), "reason": v.change_reason,
                "actor": actor}

    def read_fee_item(self, item_id: str, version: int = 0) -> FeeItemRow | None:
        r = self.uow.row(sql(
            f"SELECT {_FEE_COLUMNS} FROM {S}.fee_item_versions v JOIN {S}.fee_items i ON i.id = v.fee_item_id"
            " WHERE v.fee_item_id = :id AND v.version = CASE WHEN :ver = 0 THEN i.current_version ELSE :ver END"),
            {"id": item_id, "ver": version})
        return _fee_row(r) if r else None

    def list_fee_items(self, tenant: str, include_drafts: bool) -> list[FeeItemRow]:
        """Current versions of the tenant's own items and the published ones of its ancestors."""
        rows = self.uow.rows(sql(
            f"SELECT {_FEE_COLUMNS} FROM {S}.fee_items i JOIN {S}.fee_item_versions v ON v.fee_item_id = i.id"
            " AND v.version = i.current_version WHERE (i.tenant_code = :t AND i.status = ANY(:st))"
            " OR (i.tenant_code = ANY(:anc) AND i.status = 'published') ORDER BY length(i.tenant_code) DESC,"
            " v.fee_code"),
            {"t": tenant, "st": ["draft", "published"] if include_drafts else ["published"],
             "anc": ancestors_and_self(tenant)[1:]})
        return [_fee_row(r) for r in rows]

    def list_public(self, region: str) -> list[FeeItemRow]:
        rows = self.uow.rows(sql(
            f"SELECT {_FEE_COLUMNS} FROM {S}.fee_items i JOIN {S}.fee_item_versions v ON v.fee_item_id = i.id"
            " AND v.version = i.current_version WHERE i.status = 'published'"
            " AND (:r = '' OR i.tenant_code LIKE :r || '%' OR :r LIKE i.tenant_code || '%')"
            " ORDER BY i.tenant_code, v.fee_code"), {"r": region})
        return [_fee_row(r) for r in rows]

    def published_for(self, tenant: str, codes: list[str]) -> dict[str, FeeItemRow]:
        """The fee items in force for a tenant, by code: its own, else its nearest ancestor's."""
        chain = ancestors_and_self(tenant)
        rows = self.uow.rows(sql(
            f"SELECT {_FEE_COLUMNS} FROM {S}.fee_items i JOIN {S}.fee_item_versions v ON v.fee_item_id = i.id"
            " AND v.version = i.current_version WHERE i.status = 'published' AND i.fee_code = ANY(:codes)"
            " AND i.tenant_code = ANY(:chain) ORDER BY length(i.tenant_code) ASC"),
            {"codes": codes, "chain": chain})
        out: dict[str, FeeItemRow] = {}
        for r in rows:  # nearest (longest code) last, so it wins
            row = _fee_row(r)
            out[row.definition["fee_code"]] = row
        return out

    def fee_code_exists(self, tenant: str, code: str) -> bool:
        return self.uow.row(sql(f"SELECT 1 FROM {S}.fee_items WHERE tenant_code = :t AND fee_code = :c"
                                 " AND status <> 'cancelled'"), {"t": tenant, "c": code}) is not None

    # -- treasury accounts (reference data) ------------------------------------------------------
    def treasury_account(self, tenant: str) -> TreasuryAccount | None:
        """The account that receives the tenant's fees: its own, else its nearest ancestor's."""
        r = self.uow.row(sql(f"SELECT tenant_code, payee_name, account_number, bank_name, kind"
                              f" FROM {S}.treasury_accounts WHERE tenant_code = ANY(:chain)"
                              " ORDER BY length(tenant_code) DESC LIMIT 1"),
                         {"chain": ancestors_and_self(tenant)})
        return TreasuryAccount(*r) if r else None

    def account_owner(self, account_number: str) -> TreasuryAccount | None:
        r = self.uow.row(sql(f"SELECT tenant_code, payee_name, account_number, bank_name, kind"
                              f" FROM {S}.treasury_accounts WHERE account_number = :a"),
                         {"a": account_number})
        return TreasuryAccount(*r) if r else None

    # -- cases and lines -------------------------------------------------------------------------
    _CASE = ("tenant_code, case_number, status, source, government_invested, key_project, applicant_name, item_id,"
             " item_version, item_name, expected_fee_codes, paid_fen, refunded_fen, assessed_by, assessed_at,"
             " settled_at, decided_at")
    _LINE = ("line_no, fee_code, fee_item_id, fee_version, name, collecting_unit, basis, standard, waiver_reasons,"
             " quantities, unit_price_fen, amount_fen, waived_fen, lower_bound_applied, calculation,"
             " waiver_reason_code, waiver_reason, waived_by, waiver_note, status")

    _CASE_NAMES = tuple(c.strip() for c in _CASE.split(","))
    _LINE_IN_L = ", ".join(f"l.{c.strip()}" for c in _LINE.split(","))

    def get_case(self, case_number: str, *, lock: bool = False) -> CaseFees | None:
        r = self.uow.row(sql(f"SELECT {self._CASE} FROM {S}.cases WHERE case_number = :n"
                             + (" FOR UPDATE" if lock else "")), {"n": case_number})
        if r is None:
            return None
        case = self._case_of(r)
        case.lines = self._lines(case.tenant, case_number)
        return case

    @staticmethod
    def _case_of(r) -> CaseFees:
        return CaseFees(tenant=r[0], case_number=r[1], status=CaseStatus(r[2]), source=r[3], government_invested=r[4],
                        key_project=r[5], applicant_name=r[6], item_id=r[7], item_version=r[8], item_name=r[9],
                        expected_fee_codes=tuple(r[10] or ()), paid_fen=r[11], refunded_fen=r[12],
                        assessed_by=r[13] or "", assessed_at=r[14], settled_at=r[15], decided_at=r[16])

    def _lines(self, tenant: str, case_number: str) -> list[FeeLine]:
        rows = self.uow.rows(sql(f"SELECT {self._LINE} FROM {S}.lines WHERE tenant_code = :t AND case_number = :n"
                                 " ORDER BY line_no"), {"t": tenant, "n": case_number})
        return [self._line_of(r) for r in rows]

    @staticmethod
    def _line_of(r) -> FeeLine:
        return FeeLine(line_no=r[0], fee_code=r[1], fee_item_id=str(r[2]), fee_version=r[3], name=r[4],
                       collecting_unit=r[5], basis=r[6], standard=Standard.from_dict(r[7]),
                       waiver_reasons=tuple(WaiverReason.from_dict(x) for x in r[8]), quantities=dict(r[9]),
                       unit_price_fen=r[10], amount_fen=r[11], waived_fen=r[12], lower_bound_applied=r[13],
                       calculation=r[14], waiver_reason_code=r[15], waiver_reason=r[16], waived_by=r[17],
                       waiver_note=r[18], status=LineStatus(r[19]))

    def save_case(self, case: CaseFees, *, lines_changed: bool = True) -> None:
        total, waived, _ = case.totals
        params = {"t": case.tenant, "n": case.case_number, "st": str(case.status), "src": case.source,
                  "gov": case.government_invested, "key": case.key_project, "app": case.applicant_name,
                  "iid": case.item_id, "iv": case.item_version, "iname": case.item_name,
                  "codes": list(case.expected_fee_codes), "by": case.assessed_by or None, "aat": case.assessed_at,
                  "total": total, "waived": waived, "paid": case.paid_fen, "refunded": case.refunded_fen,
                  "sat": case.settled_at, "dat": case.decided_at}
        self.uow.execute(sql(
            f"INSERT INTO {S}.cases (tenant_code, case_number, status, source, government_invested, key_project,"
            " applicant_name, item_id, item_version, item_name, expected_fee_codes, assessed_by, assessed_at,"
            " total_fen, waived_fen, paid_fen, refunded_fen, settled_at, decided_at) VALUES (:t, :n, :st, :src, :gov,"
            " :key, :app, :iid, :iv, :iname, :codes, :by, :aat, :total, :waived, :paid, :refunded, :sat, :dat)"
            " ON CONFLICT (tenant_code, case_number) DO UPDATE SET status = :st, government_invested = :gov,"
            " key_project = :key, applicant_name = :app, item_id = :iid, item_version = :iv, item_name = :iname,"
            " expected_fee_codes = :codes, assessed_by = :by, assessed_at = :aat, total_fen = :total,"
            " waived_fen = :waived, paid_fen = :paid, refunded_fen = :refunded, settled_at = :sat,"
            " decided_at = :dat, updated_at = now()"), params)
        if not lines_changed:
            return
        self.uow.execute(sql(f"DELETE FROM {S}.lines WHERE tenant_code = :t AND case_number = :n"),
                         {"t": case.tenant, "n": case.case_number})
        insert = sql(
            f"INSERT INTO {S}.lines (tenant_code, case_number, line_no, fee_code, fee_item_id, fee_version, name,"
            " collecting_unit, basis, standard, waiver_reasons, quantities, unit_price_fen, amount_fen, waived_fen,"
            " lower_bound_applied, calculation, waiver_reason_code, waiver_reason, waived_by, waiver_note, status)"
            " VALUES (:t, :n, :no, :code, :iid, :iv, :name, :unit, :basis, CAST(:std AS jsonb),"
            " CAST(:reasons AS jsonb), CAST(:q AS jsonb), :price, :amount, :waived, :lower, :calc, :rcode,"
            " :reason, :wby, :wnote, :st)")
        self.uow.batch(*[(insert, {
            "t": case.tenant, "n": case.case_number, "no": x.line_no, "code": x.fee_code, "iid": x.fee_item_id,
            "iv": x.fee_version, "name": x.name, "unit": x.collecting_unit, "basis": x.basis,
            "std": json.dumps(x.standard.to_dict(), ensure_ascii=False),
            "reasons": json.dumps([r.to_dict() for r in x.waiver_reasons], ensure_ascii=False),
            "q": json.dumps(x.quantities), "price": x.unit_price_fen, "amount": x.amount_fen,
            "waived": x.waived_fen, "lower": x.lower_bound_applied, "calc": x.calculation,
            "rcode": x.waiver_reason_code, "reason": x.waiver_reason, "wby": x.waived_by,
            "wnote": x.waiver_note, "st": str(x.status)}) for x in case.lines])

    def list_cases(self, tenant: str, status: str, limit: int, offset: int, *, basic: bool = False) -> tuple[list, int]:
        """`list_cases_statement` in this unit of work, read by `cases_page` or `basic_cases_page` (the handler
        reads it in one round trip instead: Database.read_planned)."""
        rows = self.uow.rows_planned(*self.list_cases_statement(tenant, status, limit, offset, basic=basic))
        return self.basic_cases_page(rows) if basic else self.cases_page(rows)

    @classmethod
    def list_cases_statement(cls, tenant: str, status: str, limit: int, offset: int, *, basic: bool = False
                             ) -> tuple[Any, dict[str, Any]]:
        """A page of the tenant's cases (of `status`, or every status when empty), most recently changed first,
        each with its current notice (as `notice_of_case`), and their number counted up to LIST_TOTAL_CAP + 1
        (above LIST_TOTAL_CAP: "more than that"); its rows read by `cases_page`, or by `basic_cases_page` when
        `basic`.

        One statement (issue 22 item 4: the cashier's list at a year's volume took three round trips, and planned
        the first on every call): the capped count's row carries the page's cases, or stands alone (its case NULL)
        when the page is empty; each case's notice comes as columns, found by its own index for that case alone.
        The full view brings each case's lines as one JSON array (`_LINE`'s columns, by `line_no`); the basic view
        (the cashier's list: fees.proto CASE_FEES_VIEW_BASIC) reads no line, only the totals the case was last
        saved with (`save_case` writes `CaseFees.totals` of its lines with every change), and `_NOTICE_BASIC_NAMES`."""
        cond = f"tenant_code = :t{' AND status = :st' if status else ''}"
        if basic:
            case, lines, notice = f"{cls._CASE}, total_fen, waived_fen", "", cls._NOTICE_BASIC_IN_N
        else:
            case, notice = cls._CASE, cls._NOTICE_IN_N
            lines = (f" (SELECT json_agg(json_build_array({cls._LINE_IN_L}) ORDER BY l.line_no) FROM {S}.lines l"
                     "   WHERE l.tenant_code = c.tenant_code AND l.case_number = c.case_number) AS lines,")
        return sql(
            f"SELECT p.*, t.n FROM (SELECT count(*) AS n FROM (SELECT 1 FROM {S}.cases WHERE {cond}"
            f" LIMIT :cap) c) t LEFT JOIN LATERAL (SELECT c.*,{lines} nt.*"
            f" FROM (SELECT {case}, updated_at FROM {S}.cases WHERE {cond}"
            " ORDER BY updated_at DESC, case_number LIMIT :l OFFSET :o) c"
            f" LEFT JOIN LATERAL (SELECT {notice} FROM {S}.notices n WHERE n.tenant_code = c.tenant_code"
            "   AND n.case_number = c.case_number ORDER BY (n.status <> 'void') DESC, n.issued_at DESC LIMIT 1) nt"
            " ON true) p ON true ORDER BY p.updated_at DESC, p.case_number"), \
            {"t": tenant, "st": status, "l": limit, "o": offset, "cap": LIST_TOTAL_CAP + 1}

    @classmethod
    def cases_page(cls, rows: list[tuple]) -> tuple[list[tuple[CaseFees, dict | None]], int]:
        """`list_cases_statement`'s rows: (each case with its lines and current notice, their capped count)."""
        width = len(cls._CASE_NAMES)
        page: list[tuple[CaseFees, dict | None]] = []
        for r in rows:
            if r[1] is None:
                continue
            case = cls._case_of(r)
            case.lines = [cls._line_of(x) for x in r[width + 1] or ()]
            notice = r[width + 2:width + 2 + len(cls._NOTICE_NAMES)]
            page.append((case, dict(zip(cls._NOTICE_NAMES, notice, strict=True)) if notice[0] is not None else None))
        return page, (rows[0][-1] if rows else 0)

    @classmethod
    def basic_cases_page(cls, rows: list[tuple]
                         ) -> tuple[list[tuple[CaseFees, tuple[int, int, int], dict | None]], int]:
        """`list_cases_statement(basic=True)`'s rows: (each case without its lines, with its saved totals (total,
        waived, due) and its current notice's `_NOTICE_BASIC_NAMES`; their capped count)."""
        width = len(cls._CASE_NAMES)
        page: list[tuple[CaseFees, tuple[int, int, int], dict | None]] = []
        for r in rows:
            if r[1] is None:
                continue
            notice = r[width + 3:width + 3 + len(cls._NOTICE_BASIC_NAMES)]
            page.append((cls._case_of(r), saved_totals(r[width], r[width + 1]),
                         dict(zip(cls._NOTICE_BASIC_NAMES, notice, strict=True)) if notice[0] is not None else None))
        return page, (rows[0][-1] if rows else 0)

    # -- notices ---------------------------------------------------------------------------------
    SERIAL_RANGE = "notices_serial_range"        # migration 0005: 1 ≤ serial ≤ domain.NOTICE_SERIAL_MAX

    @staticmethod
    def numbering(tenant: str, year: int, notice_number: str) -> tuple[Any, dict[str, Any]]:
        """The statement that gives a notice just written its serial, the tenant's next of the year without gaps.
        Its counter row stays locked until commit: it goes last, with the COMMIT (`UnitOfWork.commit_with_last`);
        it returns the serial. Past the yearly maximum the row's CHECK (SERIAL_RANGE) fails the transaction."""
        return sql(
            f"WITH s AS (INSERT INTO {S}.notice_counters (tenant_code, year, last_seq) VALUES (:t, :y, 1)"
            " ON CONFLICT (tenant_code, year) DO UPDATE SET last_seq = notice_counters.last_seq + 1"
            " RETURNING last_seq)"
            f" UPDATE {S}.notices SET serial = (SELECT last_seq FROM s) WHERE notice_number = :n RETURNING serial"), \
            {"t": tenant, "y": year, "n": notice_number}

    def notice_number_taken(self, number: str) -> bool:
        """A notice of that number exists (one of the tenant's: the number carries its tenant)."""
        return self.uow.row(sql(f"SELECT 1 FROM {S}.notices WHERE notice_number = :n"), {"n": number}) is not None

    def insert_notice(self, n: dict) -> None:
        self.uow.execute(sql(
            f"INSERT INTO {S}.notices (notice_number, tenant_code, case_number, total_fen, payee_name, payee_account,"
            " payee_bank, status, issued_by, issued_at, serial, verification_code) VALUES (:notice_number, :tenant,"
            " :case_number, :total_fen, :payee_name, :payee_account, :payee_bank, 'issued', :issued_by, :issued_at,"
            " :serial, :verification_code)"), n)

    _NOTICE = ("notice_number, tenant_code AS tenant, case_number, total_fen, payee_name, payee_account, payee_bank,"
               " status, issued_by, issued_at, paid_at, payment_id, receipt_text, receipt_digest, receipt_signature,"
               " receipt_signer, serial, verification_code")

    _NOTICE_NAMES = tuple(c.split(" AS ")[-1].strip() for c in _NOTICE.split(","))
    # the notice's columns in a list's row, beside the case's (whose names they share): n_<name>
    _NOTICE_IN_N = ", ".join(f"n.{c.split(' AS ')[0].strip()} AS n_{c.split(' AS ')[-1].strip()}"
                             for c in _NOTICE.split(","))
    # what a basic list shows of a case's current notice (fees.proto CASE_FEES_VIEW_BASIC)
    _NOTICE_BASIC_NAMES = ("notice_number", "status", "total_fen", "issued_at", "paid_at", "serial")
    _NOTICE_BASIC_IN_N = ", ".join(f"n.{c} AS n_{c}" for c in _NOTICE_BASIC_NAMES)

    def get_notice(self, number: str, *, lock: bool = False) -> dict | None:
        return self.uow.mapping(sql(f"SELECT {self._NOTICE} FROM {S}.notices WHERE notice_number = :n"
                                     + (" FOR UPDATE" if lock else "")), {"n": number})

    def notice_of_case(self, tenant: str, case_number: str) -> dict | None:
        return self.uow.mapping(sql(f"SELECT {self._NOTICE} FROM {S}.notices WHERE tenant_code = :t"
                                     " AND case_number = :c ORDER BY (status <> 'void') DESC, issued_at DESC LIMIT 1"),
                                {"t": tenant, "c": case_number})

    def mark_notice_paid(self, number: str, payment_id: str, paid_at: dt.datetime, receipt: dict) -> None:
        self.uow.execute(sql(f"UPDATE {S}.notices SET status = 'paid', payment_id = :p, paid_at = :at,"
                              " receipt_text = :text, receipt_digest = :digest, receipt_signature = :sig,"
                              " receipt_signer = :signer WHERE notice_number = :n"),
                         {"n": number, "p": payment_id, "at": paid_at, **receipt})

    def void_notice(self, number: str) -> None:
        self.uow.execute(sql(f"UPDATE {S}.notices SET status = 'void' WHERE notice_number = :n"), {"n": number})

    # -- payments --------------------------------------------------------------------------------
    def get_payment(self, payment_id: str) -> dict | None:
        return self.uow.mapping(sql(f"SELECT payment_id, tenant_code, notice_number, matched_notice, amount_fen,"
                                     f" paid_at, fields_digest, outcome FROM {S}.payments WHERE payment_id = :p"),
                                {"p": payment_id})

    def insert_payment(self, p: dict) -> None:
        self.uow.execute(sql(
            f"INSERT INTO {S}.payments (payment_id, tenant_code, notice_number, matched_notice, amount_fen, paid_at,"
            " payer_name, channel, payee_account, fields, fields_digest, signature, outcome, received_at) VALUES"
            " (:payment_id, :tenant, :notice_number, :matched_notice, :amount_fen, :paid_at, :payer_name, :channel,"
            " :payee_account, CAST(:fields AS jsonb), :fields_digest, :signature, :outcome, :now)"), p)

    def match_payment(self, payment_id: str, notice_number: str) -> None:
        self.uow.execute(sql(f"UPDATE {S}.payments SET matched_notice = :n, outcome = 'matched'"
                              " WHERE payment_id = :p"), {"n": notice_number, "p": payment_id})

    # -- reconciliation --------------------------------------------------------------------------
    _ENTRY = ("r.id, r.tenant_code AS tenant, r.kind, r.status, r.payment_id, r.notice_number, r.case_number,"
              " r.amount_fen, r.expected_fen, r.created_at, r.resolution, r.resolved_by, r.resolved_at, p.paid_at,"
              " p.payer_name, p.payee_account")

    def add_entry(self, e: dict) -> str:
        entry_id = str(uuid.uuid4())
        self.uow.execute(sql(
            f"INSERT INTO {S}.reconciliation (id, tenant_code, kind, status, payment_id, notice_number, case_number,"
            " amount_fen, expected_fen, created_at) VALUES (:id, :tenant, :kind, 'open', :payment_id, :notice_number,"
            " :case_number, :amount_fen, :expected_fen, :now)"), {"id": entry_id, **e})
        return entry_id

    def open_entries_for_notice(self, tenant: str, number: str) -> list[dict]:
        return self.uow.mappings(sql(f"SELECT {self._ENTRY} FROM {S}.reconciliation r JOIN {S}.payments p"
                                      " ON p.payment_id = r.payment_id WHERE r.tenant_code = :t"
                                      " AND r.notice_number = :n AND r.status = 'open' AND r.kind = 'unknown_notice'"
                                      " ORDER BY p.paid_at, r.created_at FOR UPDATE OF r"), {"t": tenant, "n": number})

    def get_entry(self, entry_id: str, *, lock: bool = False) -> dict | None:
        return self.uow.mapping(sql(f"SELECT {self._ENTRY} FROM {S}.reconciliation r JOIN {S}.payments p"
                                     " ON p.payment_id = r.payment_id WHERE r.id = :id"
                                     + (" FOR UPDATE OF r" if lock else "")), {"id": entry_id})

    def update_entry(self, entry_id: str, *, status: str, kind: str | None = None, expected_fen: int | None = None,
                     case_number: str | None = None, resolution: str = "", resolved_by: str = "",
                     now: dt.datetime) -> None:
        self.uow.execute(sql(
            f"UPDATE {S}.reconciliation SET status = :st, kind = COALESCE(:kind, kind),"
            " expected_fen = COALESCE(:exp, expected_fen), case_number = COALESCE(:case, case_number),"
            " resolution = :res, resolved_by = :by,"
            " resolved_at = CASE WHEN :st = 'open' THEN NULL ELSE CAST(:now AS timestamptz) END WHERE id = :id"),
            {"id": entry_id, "st": status, "kind": kind, "exp": expected_fen, "case": case_number, "res": resolution,
             "by": resolved_by, "now": now})

    def list_entries(self, tenant: str, include_resolved: bool, limit: int, offset: int) -> tuple[list[dict], int]:
        rows = self.uow.mappings(sql(
            f"SELECT {self._ENTRY}, count(*) OVER () AS total FROM {S}.reconciliation r JOIN {S}.payments p"
            " ON p.payment_id = r.payment_id WHERE r.tenant_code = :t AND (:all OR r.status = 'open')"
            " ORDER BY r.created_at DESC LIMIT :l OFFSET :o"),
            {"t": tenant, "all": include_resolved, "l": limit, "o": offset})
        return rows, (rows[0]["total"] if rows else 0)

    # -- refunds ---------------------------------------------------------------------------------
    _REFUND = ("id, tenant_code AS tenant, notice_number, case_number, payment_id, reconciliation_id, amount_fen,"
               " reason, status, requested_by, requested_at, decided_by, decided_at, note")

    def add_refund(self, r: dict) -> str:
        refund_id = str(uuid.uuid4())
        self.uow.execute(sql(
            f"INSERT INTO {S}.refunds (id, tenant_code, notice_number, case_number, payment_id, reconciliation_id,"
            " amount_fen, reason, status, requested_by, requested_at) VALUES (:id, :tenant, :notice_number,"
            " :case_number, :payment_id, :reconciliation_id, :amount_fen, :reason, 'pending', :requested_by, :now)"),
            {"id": refund_id, **r})
        return refund_id

    def get_refund(self, refund_id: str, *, lock: bool = False) -> dict | None:
        return self.uow.mapping(sql(f"SELECT {self._REFUND} FROM {S}.refunds WHERE id = :id"
                                     + (" FOR UPDATE" if lock else "")), {"id": refund_id})

    def decide_refund(self, refund_id: str, status: str, by: str, note: str, now: dt.datetime) -> None:
        self.uow.execute(sql(f"UPDATE {S}.refunds SET status = :st, decided_by = :by, decided_at = :now, note = :note"
                              " WHERE id = :id"), {"id": refund_id, "st": status, "by": by, "note": note, "now": now})

    def refunds_committed(self, payment_id: str) -> int:
        """Refunds pending or approved against one payment (what is no longer refundable)."""
        return self.uow.value(sql(f"SELECT COALESCE(sum(amount_fen), 0)::bigint FROM {S}.refunds WHERE payment_id = :p"
                                   " AND status <> 'rejected'"), {"p": payment_id})

    def list_refunds(self, tenant: str, status: str) -> list[dict]:
        return self.uow.mappings(sql(f"SELECT {self._REFUND} FROM {S}.refunds WHERE tenant_code = :t"
                                      " AND (:st = '' OR status = :st) ORDER BY requested_at DESC LIMIT 500"),
                                 {"t": tenant, "st": status})

    def add_refunded(self, tenant: str, case_number: str, amount: int) -> None:
        self.uow.execute(sql(f"UPDATE {S}.cases SET refunded_fen = refunded_fen + :a, updated_at = now()"
                              " WHERE tenant_code = :t AND case_number = :n"),
                         {"a": amount, "t": tenant, "n": case_number})

    # -- daily report ----------------------------------------------------------------------------
    def day_rows(self, tenant: str, start: dt.datetime, end: dt.datetime) -> dict[str, list[dict]]:
        p = {"t": tenant, "a": start, "b": end}
        q = {
            "notices": f"SELECT notice_number, case_number, total_fen, status, issued_at AS at, issued_by"
                       f" FROM {S}.notices WHERE tenant_code = :t AND issued_at >= :a AND issued_at < :b"
                       " ORDER BY issued_at",
            "payments": f"SELECT p.payment_id, p.notice_number, p.amount_fen, p.outcome, p.received_at AS at,"
                        f" p.paid_at, n.case_number FROM {S}.payments p LEFT JOIN {S}.notices n"
                        " ON n.notice_number = p.matched_notice WHERE p.tenant_code = :t AND p.received_at >= :a"
                        " AND p.received_at < :b ORDER BY p.received_at",
            "mismatches": f"SELECT id, kind, status, payment_id, notice_number, case_number, amount_fen, expected_fen,"
                          f" created_at AS at, resolution FROM {S}.reconciliation WHERE tenant_code = :t"
                          " AND created_at >= :a AND created_at < :b ORDER BY created_at",
            "refunds": f"SELECT id, notice_number, case_number, payment_id, amount_fen, reason, decided_at AS at"
                       f" FROM {S}.refunds WHERE tenant_code = :t AND status = 'approved' AND decided_at >= :a"
                       " AND decided_at < :b ORDER BY decided_at",
            "settlements": f"SELECT case_number, settled_at AS at FROM {S}.cases WHERE tenant_code = :t"
                           " AND settled_at >= :a AND settled_at < :b",
        }
        return {k: self.uow.mappings(sql(query), p) for k, query in q.items()}

    def open_entry_count(self, tenant: str) -> int:
        return self.uow.value(sql(f"SELECT count(*) FROM {S}.reconciliation WHERE tenant_code = :t"
                                   " AND status = 'open'"), {"t": tenant})

    # -- refused callbacks -----------------------------------------------------------------------
    def count_rejection(self, minute: dt.datetime) -> int:
        """One more refused callback in this minute; how many there have been in it, this one included."""
        return self.uow.value(sql(
            f"INSERT INTO {S}.callback_rejection_minutes AS m (minute, seen) VALUES (:m, 1)"
            " ON CONFLICT (minute) DO UPDATE SET seen = m.seen + 1 RETURNING seen"), {"m": minute})

    def log_rejection(self, r: dict, minute: dt.datetime) -> None:
        """A refused payment callback, as payments.rejection_record bounded it; the minute's count of stored ones."""
        self.uow.execute(sql(
            f"INSERT INTO {S}.callback_rejections (reason, payment_id, notice_number, body, body_bytes, body_sha256,"
            " signature) VALUES (:reason, :payment_id, :notice_number, :body, :body_bytes, :body_sha256, :signature)"),
            r)
        self.uow.execute(sql(f"UPDATE {S}.callback_rejection_minutes SET stored = stored + 1 WHERE minute = :m"),
                         {"m": minute})
