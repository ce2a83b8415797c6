"""Persistence of the catalogue schema. Repositories never commit: the handler's unit of work does.

Row-level security decides which rows exist for the current transaction; the queries below still
filter by tenant where the use case means it (both walls, each on its own).
"""

from __future__ import annotations

import datetime as dt
import json

from services.catalogue.domain import CodeFormat, Elements, Item, ItemRow, ItemVersion, ListingKind, Status
from services.catalogue.importing import ExistingCodes
from services.catalogue.search import index_terms
from shared.db import BoundRead, Database, UnitOfWork, sql
from shared.tenancy import DivisionCode, Principal, Unit

S = "catalogue"


_ROW_COLUMNS = ("v.item_id, v.tenant_code, v.version, v.status, v.elements, v.created_at, v.published_at,"
                " v.change_reason")


# The versions holding every one of the query's terms (distinct, so one row per term and version). Equality on
# text is leakproof, so the term's b-tree is an index condition under row-level security (migration 0005);
# the GIN on item_versions.terms is not (`@>` is not leakproof: PostgreSQL filters every row by the policy first).
_HITS = (f"hits AS MATERIALIZED (SELECT item_id, version FROM {S}.item_terms WHERE term = ANY(:terms)"
         " GROUP BY item_id, version HAVING count(*) = :n)")


_GENERIC_PLAN = sql("SET LOCAL plan_cache_mode = force_generic_plan")
# search_listed: the unit's listed items among the current published versions holding every term, sorted and counted
# from the term rows' index alone (migration 0010: they carry their version's status and name). Each hit looks up its
# own listing for the unit (the lateral probe, kept a nested loop by OFFSET 0): the generic plan otherwise joined the
# hits to a hash of every listing of the unit, reading all 1,131 of 广安区's for a term with 8 hits — half the
# statement's CPU for a one-term query (0.37 → 0.19 ms per call over 3,000 different queries from the list's names;
# the broadest term, 审批 with 407 hits, 0.76 → 0.98 ms).
_SEARCH = """
            WITH hits AS MATERIALIZED ({hits})
            SELECT h.item_id, h.version, l.kind, count(*) OVER () FROM hits h
             CROSS JOIN LATERAL (SELECT kind FROM {s}.item_listings l
                                  WHERE l.item_id = h.item_id AND l.listed_for = {t} AND l.revoked_at IS NULL
                                 OFFSET 0) l
             ORDER BY h.tenant_code, h.name, h.item_id LIMIT {lim} OFFSET {off}"""
_HITS_ALL = (f"SELECT item_id, version, tenant_code, name FROM {S}.item_terms WHERE term = ANY({{terms}})"
             " AND status = 'published' GROUP BY item_id, version, tenant_code, name HAVING count(*) = {n}")
# one term: its rows are the hits themselves (one row per term and version, the table's key), nothing to group
_HITS_ONE = (f"SELECT item_id, version, tenant_code, name FROM {S}.item_terms WHERE term = {{term}}"
             " AND status = 'published'")
_SEARCH_ALL = sql(_SEARCH.format(s=S, t=":t", lim=":lim", off=":off", hits=_HITS_ALL.format(terms=":terms", n=":n")))
_SEARCH_ONE = sql(_SEARCH.format(s=S, t=":t", lim=":lim", off=":off", hits=_HITS_ONE.format(term=":term")))
# the same statements as reads bound in one round trip (search_listed_bound): $1 tenant, $2 term(s), $3 limit,
# $4 offset, $5 the number of terms
_BOUND_ALL = BoundRead("catalogue_search_all", _SEARCH.format(s=S, t="$1", lim="$3", off="$4",
                                                               hits=_HITS_ALL.format(terms="$2", n="$5")),
                       ("text", "text[]", "integer", "integer", "integer"))
_BOUND_ONE = BoundRead("catalogue_search_one", _SEARCH.format(s=S, t="$1", lim="$3", off="$4",
                                                               hits=_HITS_ONE.format(term="$2")),
                       ("text", "text", "integer", "integer"))


def search_listed_bound(db: Database, p: Principal, terms: list[str], limit: int,
                        offset: int) -> tuple[list[tuple[str, int, str]], int]:
    """CatalogueRepository.search_listed, the same statement under the same binding, as a read bound in one round
    trip (Database.read_bound: the binding, the generic plan and the statement in one query; no BEGIN, no
    ROLLBACK) for a search that needs nothing else from the database."""
    if len(terms) == 1:
        rows = db.read_bound(p, _BOUND_ONE, str(p.tenant), terms[0], limit, offset, generic_plans=True)
    else:
        rows = db.read_bound(p, _BOUND_ALL, str(p.tenant), terms, limit, offset, len(terms), generic_plans=True)
    return [(r[0], int(r[1]), r[2]) for r in rows], (int(rows[0][3]) if rows else 0)

def _row(r, listing: str = "") -> ItemRow:
    return ItemRow(id=str(r[0]), tenant=r[1], version=r[2], status=r[3], elements=r[4], created_at=r[5],
                   published_at=r[6], change_reason=r[7], listing=listing)


class CatalogueRepository:
    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    # -- items ---------------------------------------------------------------------------------
    def get(self, item_id: str) -> Item | None:
        head = self.uow.row(sql(f"SELECT id, tenant_code FROM {S}.items WHERE id = :id FOR UPDATE"), {"id": item_id})
        if head is None:
            return None
        rows = self.uow.rows(sql(f"SELECT version, status, elements, change_reason FROM {S}.item_versions"
                                " WHERE item_id = :id ORDER BY version"), {"id": item_id})
        versions = [ItemVersion(r[0], Status(r[1]), Elements.from_dict(r[2]), r[3]) for r in rows]
        return Item(id=str(head[0]), tenant=DivisionCode(head[1]), versions=versions, stored=len(versions))

    def add(self, item: Item, actor: str, now: dt.datetime) -> None:
        v = item.current
        self.uow.execute(sql(f"INSERT INTO {S}.items (id, tenant_code, basic_code, current_version, status,"
                               " created_at, updated_at) VALUES (:id, :t, :code, :v, :st, :now, :now)"),
                           {"id": item.id, "t": str(item.tenant), "code": v.elements.basic_code, "v": v.version,
                            "st": str(v.status), "now": now})
        self._write_versions(item, actor, now)

    def save(self, item: Item, actor: str, now: dt.datetime) -> None:
        """Write the item's state back: the versions read are updated, the new ones inserted."""
        cur = item.current
        self.uow.execute(sql(f"UPDATE {S}.items SET current_version = :v, status = :st, updated_at = :now"
                               " WHERE id = :id"), {"id": item.id, "v": cur.version, "st": str(cur.status), "now": now})
        self._write_versions(item, actor, now)

    def _write_versions(self, item: Item, actor: str, now: dt.datetime) -> None:
        """Dates are the clock's `now` (a drill's pinned day), never the database's."""
        for v in item.stored_versions:
            params = {**self._version_params(item, v, actor), "now": now}
            self.uow.execute(
                sql(f"UPDATE {S}.item_versions SET status = :st, elements = CAST(:el AS jsonb), name = :name,"
                    " item_type = :type, exercise_level = :lvl, terms = :terms, change_reason = :reason,"
                    " published_at = CASE WHEN :st = 'published' AND published_at IS NULL THEN :now"
                    " ELSE published_at END,"
                    " published_by = CASE WHEN :st = 'published' AND published_by IS NULL THEN :actor"
                    " ELSE published_by END"
                    " WHERE item_id = :id AND version = :v"), params)
            self.uow.execute(sql(f"DELETE FROM {S}.item_terms WHERE item_id = :id AND version = :v"),
                             {"id": item.id, "v": v.version})
            self._write_terms(params)
        for v in item.new_versions:
            params = {**self._version_params(item, v, actor), "now": now}
            self.uow.execute(
                sql(f"INSERT INTO {S}.item_versions (item_id, version, tenant_code, status, name, item_type,"
                    " exercise_level, elements, terms, change_reason, created_by, created_at, published_at,"
                    " published_by)"
                    " VALUES (:id, :v, :t, :st, :name, :type, :lvl, CAST(:el AS jsonb), :terms, :reason, :actor, :now,"
                    " CASE WHEN :st = 'published' THEN CAST(:now AS timestamptz) END,"
                    " CASE WHEN :st = 'published' THEN :actor END)"), params)
            self._write_terms(params)
        item.all_stored()

    def _write_terms(self, params: dict) -> None:
        """A version's search terms as rows (migration 0005: a b-tree on the term serves a search under RLS), each
        with the version's status and name (0010: a search filters and sorts its hits on them)."""
        self.uow.execute(sql(f"INSERT INTO {S}.item_terms (term, item_id, version, tenant_code, status, name)"
                             " SELECT DISTINCT unnest(CAST(:terms AS text[])), CAST(:id AS uuid), :v, :t, :st, :name"),
                         {k: params[k] for k in ("terms", "id", "v", "t", "st", "name")})

    def _version_params(self, item: Item, v: ItemVersion, actor: str) -> dict:
        el = v.elements
        return {"id": item.id, "v": v.version, "t": str(item.tenant), "st": str(v.status),
                "el": json.dumps(el.to_dict(), ensure_ascii=False), "name": el.name, "type": el.item_type,
                "lvl": el.exercise_level, "reason": v.change_reason, "actor": actor,
                "terms": index_terms([el.name, *el.keywords, el.department, el.basic_code,
                                      el.implementation_code])}

    def read(self, item_id: str, version: int = 0) -> ItemRow | None:
        """A version (the current one when 0) — as far as the transaction's tenant may see it."""
        if version:
            r = self.uow.row(sql(f"SELECT {_ROW_COLUMNS} FROM {S}.item_versions v"
                                  " WHERE v.item_id = :id AND v.version = :ver"),
                             {"id": item_id, "ver": version})
        else:
            r = self.uow.row(sql(f"SELECT {_ROW_COLUMNS} FROM {S}.item_versions v JOIN {S}.items i"
                                  " ON i.id = v.item_id AND i.current_version = v.version WHERE v.item_id = :id"),
                             {"id": item_id})
        return _row(r) if r else None

    def read_with_current(self, item_id: str, version: int = 0) -> tuple[ItemRow, int, str] | None:
        """A version and, in the same statement, the item's current version and status."""
        r = self.uow.row(sql(f"SELECT {_ROW_COLUMNS}, i.current_version, i.status FROM {S}.item_versions v"
                              f" JOIN {S}.items i ON i.id = v.item_id"
                              " WHERE v.item_id = :id AND v.version = CASE WHEN :ver = 0 THEN i.current_version"
                              " ELSE :ver END"), {"id": item_id, "ver": version})
        return (_row(r), r[8], r[9]) if r else None

    def versions(self, item_id: str) -> list[ItemRow]:
        rows = self.uow.rows(sql(f"SELECT {_ROW_COLUMNS} FROM {S}.item_versions v WHERE v.item_id = :id"
                                  " ORDER BY v.version"), {"id": item_id})
        return [_row(r) for r in rows]

    def list_for(self, tenant: DivisionCode, *, include_drafts: bool, limit: int, offset: int,
                 terms: list[str] | None = None) -> tuple[list[ItemRow], int]:
        """The tenant's list: its own items, and what its ancestors delegated or listed for it."""
        # with terms: only the current versions holding all of them, found by the term's index (_HITS), first
        hits, on_hit = (f"{_HITS}, ", " JOIN hits h ON h.item_id = i.id AND h.version = i.current_version") \
            if terms else ("", "")
        # Every published item is listed for its own unit ('own') when it is published, and its listings are revoked
        # only when it is cancelled (handlers.publish / cancel): the published items come from the listings alone,
        # own and listed alike, and the unit's own items are read again only for its drafts (ListMyItems). Each row
        # comes from one branch (drafts have no listing; a live listing is unique per item, unit and kind), so the
        # branches are appended without a de-duplicating sort — a search walks each hit once, not twice.
        drafts = (f"""SELECT i.id AS item_id, i.current_version, 'own' AS listing FROM {S}.items i{on_hit}
                 WHERE i.tenant_code = :t AND i.status = 'draft'
                UNION ALL
                """ if include_drafts else "")
        query = f"""
            WITH {hits}mine AS (
                {drafts}SELECT i.id AS item_id, i.current_version, l.kind AS listing FROM {S}.item_listings l
                  JOIN {S}.items i ON i.id = l.item_id{on_hit}
                 WHERE l.listed_for = :t AND l.revoked_at IS NULL AND i.status = 'published'
            )
            SELECT {_ROW_COLUMNS}, m.listing, count(*) OVER () FROM mine m
              JOIN {S}.item_versions v ON v.item_id = m.item_id AND v.version = m.current_version
             ORDER BY v.tenant_code, v.name, v.item_id LIMIT :lim OFFSET :off"""
        rows = self.uow.rows(sql(query), {"t": str(tenant), "lim": limit, "off": offset,
                                         "terms": terms or [], "n": len(terms or [])})
        total = rows[0][-1] if rows else 0
        return [_row(r, r[8]) for r in rows], total

    def search_listed(self, tenant: DivisionCode, terms: list[str], limit: int,
                      offset: int) -> tuple[list[tuple[str, int, str]], int]:
        """The published items listed for the tenant that hold every term, as list_for(terms=…) without drafts lists
        them (same rows, order and total) but only as (item id, current version, listing): the hits are sorted and
        counted from the term rows' index and the listings' (migration 0010), no version is read. A term row's
        status is its version's, and 'published' only while that version is its item's current published one."""
        # the same plan for every query (the term rows' index, the listings' index per hit): planned once per
        # connection instead of once per call, which cost more than running it; set with the tenant binding when the
        # unit of work was opened for it (search_mine), else here
        if not self.uow.generic_plans:
            self.uow.execute(_GENERIC_PLAN)
        rows = self.uow.rows(_SEARCH_ONE if len(terms) == 1 else _SEARCH_ALL,
                             {"t": str(tenant), "terms": terms, "term": terms[0], "n": len(terms), "lim": limit,
                              "off": offset})
        return [(str(r[0]), r[1], r[2]) for r in rows], (rows[0][3] if rows else 0)

    def read_many(self, keys: list[tuple[str, int]]) -> list[ItemRow]:
        """The versions named (item id, version) — as far as the transaction's tenant may see them — in any order."""
        rows = self.uow.rows(sql(f"SELECT {_ROW_COLUMNS} FROM {S}.item_versions v"
                                  " JOIN unnest(CAST(:ids AS uuid[]), CAST(:vs AS integer[])) AS k(item_id, version)"
                                  " ON v.item_id = k.item_id AND v.version = k.version"),
                             {"ids": [k[0] for k in keys], "vs": [k[1] for k in keys]})
        return [_row(r) for r in rows]

    def search_public(self, region: str, terms: list[str], limit: int, offset: int) -> tuple[list[ItemRow], int]:
        """Published items offered in a region: owned by it or an ancestor, or listed for it."""
        hits, on_hit = (f"WITH {_HITS} ", " JOIN hits h ON h.item_id = i.id AND h.version = i.current_version") \
            if terms else ("", "")
        query = f"""
            {hits}SELECT {_ROW_COLUMNS}, count(*) OVER () FROM {S}.items i{on_hit}
              JOIN {S}.item_versions v ON v.item_id = i.id AND v.version = i.current_version
             WHERE i.status = 'published'
               AND (:region = '' OR i.tenant_code LIKE :region || '%' OR :region LIKE i.tenant_code || '%'
                    OR EXISTS (SELECT 1 FROM {S}.item_listings l WHERE l.item_id = i.id AND l.revoked_at IS NULL
                               AND l.listed_for = :region))
             ORDER BY (strpos(v.name, :q) > 0) DESC, length(v.name), v.name LIMIT :lim OFFSET :off"""
        rows = self.uow.rows(sql(query), {"region": region, "terms": terms, "n": len(terms), "lim": limit,
                                         "off": offset, "q": "".join(terms[:1])})
        total = rows[0][-1] if rows else 0
        return [_row(r) for r in rows], total

    # -- listings ------------------------------------------------------------------------------
    def list_item(self, owner: DivisionCode, item_id: str, listed_for: DivisionCode, kind: ListingKind,
                  reason: str, actor: str) -> bool:
        return self.uow.execute(
            sql(f"INSERT INTO {S}.item_listings (tenant_code, item_id, listed_for, kind, reason, created_by)"
                 " VALUES (:t, :id, :f, :k, :r, :a) ON CONFLICT (item_id, listed_for, kind)"
                 " WHERE revoked_at IS NULL DO NOTHING"),
            {"t": str(owner), "id": item_id, "f": str(listed_for), "k": str(kind), "r": reason, "a": actor}) == 1

    def revoke_listings(self, item_id: str, now: dt.datetime) -> int:
        return self.uow.execute(sql(f"UPDATE {S}.item_listings SET revoked_at = :now WHERE item_id = :id"
                                     " AND revoked_at IS NULL"), {"id": item_id, "now": now})

    def listed_for(self, item_id: str, tenants: list[str]) -> dict[str, set[str]]:
        """Live listing kinds of an item for the given units (public information)."""
        out: dict[str, set[str]] = {}
        for code, kind in self.uow.rows(
                sql(f"SELECT listed_for, kind FROM {S}.item_listings WHERE item_id = :id AND revoked_at IS NULL"
                     " AND listed_for = ANY(:t)"), {"id": item_id, "t": tenants}):
            out.setdefault(code, set()).add(kind)
        return out

    def listings(self, item_id: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.uow.rows(
            sql(f"SELECT listed_for, kind FROM {S}.item_listings WHERE item_id = :id AND revoked_at IS NULL"
                 " ORDER BY listed_for"), {"id": item_id})]

    # -- reference data ------------------------------------------------------------------------
    def unit(self, code: str) -> Unit | None:
        r = self.uow.row(sql(f"SELECT code, name FROM {S}.units WHERE code = :c"), {"c": code})
        return Unit(DivisionCode(r[0]), r[1]) if r else None

    def child_units(self, code: str) -> list[Unit]:
        return [Unit(DivisionCode(r[0]), r[1]) for r in self.uow.rows(
            sql(f"SELECT code, name FROM {S}.units WHERE parent_code = :c ORDER BY code"), {"c": code})]

    def existing_units(self, codes: list[str]) -> set[str]:
        return {r[0] for r in self.uow.rows(sql(f"SELECT code FROM {S}.units WHERE code = ANY(:c)"), {"c": codes})}

    def code_format(self, province: str) -> CodeFormat:
        r = self.uow.row(sql(f"SELECT province, basic_max, implementation_max, case_number_max, basic_pattern,"
                              f" implementation_pattern, description FROM {S}.code_formats"
                              " WHERE province IN (:p, '') ORDER BY province DESC LIMIT 1"), {"p": province})
        if r is None:
            return CodeFormat()
        return CodeFormat(province=r[0], basic_max=r[1], implementation_max=r[2], case_number_max=r[3],
                          basic_pattern=r[4], implementation_pattern=r[5], description=r[6])

    def code_mappings(self, province: str, code_set: str) -> dict[str, str]:
        """A province's whole mapping table of one code set: external code → internal code."""
        return {r[0]: r[1] for r in self.uow.rows(
            sql(f"SELECT external_code, internal_code FROM {S}.code_mappings WHERE province = :p AND code_set = :s"),
            {"p": province, "s": code_set})}

    def code_mapping_rows(self, province: str, code_set: str) -> list[tuple[str, str, str]]:
        """(external, internal, label) of a province's code set, by external code."""
        return [(r[0], r[1], r[2]) for r in self.uow.rows(
            sql(f"SELECT external_code, internal_code, label FROM {S}.code_mappings WHERE province = :p"
                " AND code_set = :s ORDER BY external_code"), {"p": province, "s": code_set})]

    def existing_codes(self, tenant: DivisionCode) -> ExistingCodes:
        """The implementation codes the tenant's items hold in any version (with the item's status,
        a live one before a cancelled one), and the basic codes of its items not cancelled."""
        implementation: dict[str, str] = {}
        basic: set[str] = set()
        for code, basic_code, status in self.uow.rows(
                sql(f"SELECT DISTINCT v.elements->>'implementation_code', i.basic_code, i.status"
                     f" FROM {S}.items i JOIN {S}.item_versions v ON v.item_id = i.id WHERE i.tenant_code = :t"),
                {"t": str(tenant)}):
            if status != str(Status.CANCELLED):
                basic.add(basic_code)
            if code and (code not in implementation or implementation[code] == str(Status.CANCELLED)):
                implementation[code] = status
        return ExistingCodes(implementation, frozenset(basic))

    def map_code(self, province: str, code_set: str, external: str) -> tuple[str, str] | None:
        r = self.uow.row(sql(f"SELECT internal_code, label FROM {S}.code_mappings WHERE province = :p"
                              " AND code_set = :s AND external_code = :e"),
                         {"p": province, "s": code_set, "e": external})
        return (r[0], r[1]) if r else None
