"""Persistence of the agency schema. Repositories never commit: the handler's unit of work does.

Row-level security decides which rows exist for the current transaction (see the migration); the
queries still filter by tenant where the use case means it. Statements go through the unit of work
(`uow.mapping`, `uow.execute` …), on its own connection and in its transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from services.agency.domain import (
    Authorisation,
    HandOverItem,
    HandOverStatus,
    Material,
    Resident,
    SpecialGroup,
    Status,
)
from shared.db import UnitOfWork, sql

S = "agency"


@dataclass
class VisitRow:
    id: str
    scheduled_for: dt.datetime
    address: str
    purpose: str
    scheduled_by: str
    done_at: dt.datetime | None
    outcome: str
    done_by: str
    done_by_name: str
    materials: list[Material]


@dataclass
class NoteRow:
    at: dt.datetime
    step: str
    text: str


@dataclass
class ProxyRow:
    id: str
    tenant: str
    idempotency_key: str
    fingerprint: str
    resident: Resident
    special_group: SpecialGroup
    door_to_door: bool
    key_project: bool
    project_name: str
    item_id: str
    item_version: int
    item_name: str
    scenario_code: str
    material_names: dict[str, str]
    handling_tenant: str
    handling_unit_name: str
    authorisation: Authorisation
    agent: str
    agent_name: str
    status: Status
    status_at: dt.datetime
    application_id: str
    case_number: str
    materials: list[Material]
    free_of_charge: bool
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None
    submission_started_at: dt.datetime | None = None    # the agency began submitting it (before intake's call)
    visits: list[VisitRow] = field(default_factory=list)
    notes: list[NoteRow] = field(default_factory=list)


@dataclass
class HandOverRow:
    id: str
    from_tenant: str
    to_tenant: str
    origin_tenant: str
    handling_tenant: str
    request_id: str
    application_id: str
    case_number: str
    previous_id: str
    items: list[HandOverItem]
    handed_by: str
    handed_by_name: str
    handed_at: dt.datetime
    received_by: str = ""
    received_by_name: str = ""
    received_at: dt.datetime | None = None
    note: str = ""

    @property
    def received(self) -> bool:
        return self.received_at is not None

    @property
    def status(self) -> HandOverStatus:
        return HandOverStatus.RECEIVED if self.received else HandOverStatus.PENDING


def materials_json(materials: list[Material]) -> str:
    return json.dumps([{"code": m.code, "supplied": m.supplied, "note": m.note, "supplied_at": m.supplied_at,
                        "supplied_via": m.supplied_via} for m in materials], ensure_ascii=False)


def _materials(data) -> list[Material]:
    return [Material(code=d["code"], supplied=bool(d.get("supplied", True)), note=d.get("note", ""),
                     supplied_at=d.get("supplied_at", ""), supplied_via=d.get("supplied_via", "")) for d in data or []]


_PROXY_COLUMNS = (
    "id, tenant_code, idempotency_key, fingerprint, resident_name, resident_id_number, resident_phone,"
    " resident_address, resident_kind, special_group, door_to_door, key_project, project_name, item_id,"
    " item_version, item_name,"
    " scenario_code, material_names, handling_tenant, handling_unit_name, auth_signed_on, auth_scope,"
    " auth_document_ref, auth_valid_until, agent, agent_name, status, status_at, application_id, case_number,"
    " materials, free_of_charge, created_by, created_at, updated_at, submitted_at, submission_started_at")


def _proxy(r) -> ProxyRow:
    return ProxyRow(
        id=str(r["id"]), tenant=r["tenant_code"], idempotency_key=r["idempotency_key"], fingerprint=r["fingerprint"],
        resident=Resident(name=r["resident_name"], id_number=r["resident_id_number"], phone=r["resident_phone"],
                          address=r["resident_address"], kind=r["resident_kind"]),
        special_group=SpecialGroup(r["special_group"]), door_to_door=r["door_to_door"], key_project=r["key_project"],
        project_name=r["project_name"], item_id=r["item_id"], item_version=r["item_version"],
        item_name=r["item_name"], scenario_code=r["scenario_code"], material_names=dict(r["material_names"] or {}),
        handling_tenant=r["handling_tenant"], handling_unit_name=r["handling_unit_name"],
        authorisation=Authorisation(signed_on=r["auth_signed_on"], scope=r["auth_scope"],
                                    document_ref=r["auth_document_ref"], valid_until=r["auth_valid_until"]),
        agent=r["agent"], agent_name=r["agent_name"], status=Status(r["status"]), status_at=r["status_at"],
        application_id=r["application_id"], case_number=r["case_number"], materials=_materials(r["materials"]),
        free_of_charge=r["free_of_charge"], created_by=r["created_by"], created_at=r["created_at"],
        updated_at=r["updated_at"], submitted_at=r["submitted_at"],
        submission_started_at=r["submission_started_at"])


_HANDOVER_COLUMNS = (
    "h.id, h.from_tenant, h.to_tenant, h.origin_tenant, h.handling_tenant, h.request_id, h.application_id,"
    " h.case_number, h.previous_id, h.items, h.handed_by, h.handed_by_name, h.handed_at, r.received_by,"
    " r.received_by_name, r.received_at, r.note")
_HANDOVER_FROM = f"{S}.handovers h LEFT JOIN {S}.handover_receipts r ON r.handover_id = h.id"


def _handover(r) -> HandOverRow:
    return HandOverRow(
        id=str(r["id"]), from_tenant=r["from_tenant"], to_tenant=r["to_tenant"], origin_tenant=r["origin_tenant"],
        handling_tenant=r["handling_tenant"], request_id=str(r["request_id"]), application_id=r["application_id"],
        case_number=r["case_number"], previous_id=str(r["previous_id"] or ""),
        items=[HandOverItem(description=i["description"], copies=int(i.get("copies", 1)),
                            material_code=i.get("material_code", "")) for i in r["items"]],
        handed_by=r["handed_by"], handed_by_name=r["handed_by_name"], handed_at=r["handed_at"],
        received_by=r["received_by"] or "", received_by_name=r["received_by_name"] or "",
        received_at=r["received_at"], note=r["note"] or "")


class AgencyRepository:
    def __init__(self, uow: UnitOfWork):
        self.u = uow

    # -- proxy requests ----------------------------------------------------------------------------
    def add(self, *, id: str, tenant: str, idempotency_key: str, fingerprint: str, resident: Resident,
            special_group: SpecialGroup, door_to_door: bool, key_project: bool, project_name: str, item_id: str,
            item_version: int, item_name: str, scenario_code: str, material_names: dict[str, str],
            handling_tenant: str, handling_unit_name: str, authorisation: Authorisation, agent: str,
            agent_name: str, status: Status, now: dt.datetime, created_by: str) -> None:
        self.u.execute(sql(
            f"INSERT INTO {S}.proxy_requests (id, tenant_code, idempotency_key, fingerprint, resident_name,"
            " resident_id_number, resident_phone, resident_address, resident_kind, special_group, door_to_door,"
            " key_project, project_name, item_id, item_version, item_name, scenario_code, material_names,"
            " handling_tenant, handling_unit_name, auth_signed_on, auth_scope, auth_document_ref, auth_valid_until,"
            " agent, agent_name, status, status_at, created_by, created_at, updated_at)"
            " VALUES (:id, :t, :key, :fp, :rn, :rid, :rp, :ra, :rk, :sg, :d2d, :kp, :pn, :item, :iv, :iname, :sc,"
            " CAST(:mn AS jsonb), :ht, :hn, :aso, :asc, :adr, :avu, :agent, :agent_name, :st, :now, :by, :now, :now)"),
            {"id": id, "t": tenant, "key": idempotency_key, "fp": fingerprint, "rn": resident.name,
             "rid": resident.id_number, "rp": resident.phone, "ra": resident.address, "rk": resident.kind,
             "sg": str(special_group),
             "d2d": door_to_door, "kp": key_project, "pn": project_name, "item": item_id, "iv": item_version,
             "iname": item_name, "sc": scenario_code, "mn": json.dumps(material_names, ensure_ascii=False),
             "ht": handling_tenant, "hn": handling_unit_name, "aso": authorisation.signed_on,
             "asc": authorisation.scope, "adr": authorisation.document_ref, "avu": authorisation.valid_until,
             "agent": agent, "agent_name": agent_name, "st": str(status), "now": now, "by": created_by})

    def find_by_key(self, tenant: str, key: str) -> ProxyRow | None:
        r = self.u.mapping(sql(f"SELECT {_PROXY_COLUMNS} FROM {S}.proxy_requests"
                               " WHERE tenant_code = :t AND idempotency_key = :k"), {"t": tenant, "k": key})
        return self._complete(_proxy(r)) if r else None

    def find_by_application(self, tenant: str, application_id: str) -> ProxyRow | None:
        r = self.u.mapping(sql(f"SELECT {_PROXY_COLUMNS} FROM {S}.proxy_requests"
                               " WHERE tenant_code = :t AND application_id = :a AND application_id <> ''"),
                           {"t": tenant, "a": application_id})
        return self._complete(_proxy(r)) if r else None

    def read(self, request_id: str) -> ProxyRow | None:
        """The request with its visits and notes, as far as the transaction's tenant may see it."""
        r = self.u.mapping(sql(f"SELECT {_PROXY_COLUMNS} FROM {S}.proxy_requests WHERE id = :id"),
                           {"id": request_id})
        return self._complete(_proxy(r)) if r else None

    def lock(self, request_id: str) -> bool:
        """Lock the row for a change (only the owner's rows pass the update policy)."""
        return self.u.row(sql(f"SELECT 1 FROM {S}.proxy_requests WHERE id = :id FOR UPDATE"),
                          {"id": request_id}) is not None

    def _complete(self, row: ProxyRow) -> ProxyRow:
        row.visits = [
            VisitRow(id=str(v["id"]), scheduled_for=v["scheduled_for"], address=v["address"], purpose=v["purpose"],
                     scheduled_by=v["scheduled_by"], done_at=v["done_at"], outcome=v["outcome"],
                     done_by=v["done_by"], done_by_name=v["done_by_name"], materials=_materials(v["materials"]))
            for v in self.u.mappings(sql(f"SELECT * FROM {S}.visits WHERE request_id = :id"
                                          " ORDER BY scheduled_for, created_at"), {"id": row.id})]
        row.notes = [NoteRow(at=n[0], step=n[1], text=n[2]) for n in self.u.rows(
            sql(f"SELECT at, step, text FROM {S}.progress_notes WHERE request_id = :id ORDER BY at, id"),
            {"id": row.id})]
        return row

    def update(self, request_id: str, now: dt.datetime, **columns) -> None:
        """Set some columns of a request (names are the code's own, never input)."""
        params = {"id": request_id, "now": now}
        sets = []
        for name, value in columns.items():
            if name == "materials":
                sets.append("materials = CAST(:materials AS jsonb)")
                params[name] = materials_json(value)
            else:
                sets.append(f"{name} = :{name}")
                params[name] = str(value) if isinstance(value, Status) else value
        sets.append("updated_at = :now")
        self.u.execute(sql(f"UPDATE {S}.proxy_requests SET {', '.join(sets)} WHERE id = :id"), params)

    def list(self, status: str, limit: int, offset: int) -> tuple[list[ProxyRow], int]:
        rows = self.u.mappings(sql(
            f"SELECT {_PROXY_COLUMNS}, count(*) OVER () AS total FROM {S}.proxy_requests"
            " WHERE (:st = '' OR status = :st) ORDER BY created_at DESC, id LIMIT :lim OFFSET :off"),
            {"st": status, "lim": limit, "off": offset})
        total = rows[0]["total"] if rows else 0
        return [self._complete(_proxy(r)) for r in rows], total

    def add_note(self, tenant: str, request_id: str, key: str, at: dt.datetime, step: str, body: str) -> bool:
        return self.u.execute(sql(
            f"INSERT INTO {S}.progress_notes (tenant_code, request_id, note_key, at, step, text)"
            " VALUES (:t, :r, :k, :at, :step, :text) ON CONFLICT (request_id, note_key) DO NOTHING"),
            {"t": tenant, "r": request_id, "k": key, "at": at, "step": step, "text": body}) == 1

    # -- visits --------------------------------------------------------------------------------
    def add_visit(self, *, id: str, tenant: str, request_id: str, scheduled_for: dt.datetime, address: str,
                  purpose: str, scheduled_by: str, now: dt.datetime) -> None:
        self.u.execute(sql(
            f"INSERT INTO {S}.visits (id, tenant_code, request_id, scheduled_for, address, purpose, scheduled_by,"
            " created_at) VALUES (:id, :t, :r, :sf, :addr, :purpose, :by, :now)"),
            {"id": id, "t": tenant, "r": request_id, "sf": scheduled_for, "addr": address, "purpose": purpose,
             "by": scheduled_by, "now": now})

    def record_visit(self, visit_id: str, *, done_at: dt.datetime, outcome: str, done_by: str, done_by_name: str,
                     materials: list[Material]) -> None:
        self.u.execute(sql(
            f"UPDATE {S}.visits SET done_at = :at, outcome = :outcome, done_by = :by, done_by_name = :name,"
            " materials = CAST(:m AS jsonb) WHERE id = :id"),
            {"id": visit_id, "at": done_at, "outcome": outcome, "by": done_by, "name": done_by_name,
             "m": materials_json(materials)})

    # -- hand-overs ----------------------------------------------------------------------------
    def add_handover(self, *, id: str, from_tenant: str, to_tenant: str, origin_tenant: str, handling_tenant: str,
                     request_id: str, application_id: str, case_number: str, previous_id: str | None,
                     items: list[HandOverItem], handed_by: str, handed_by_name: str, now: dt.datetime) -> None:
        self.u.execute(sql(
            f"INSERT INTO {S}.handovers (id, from_tenant, to_tenant, origin_tenant, handling_tenant, request_id,"
            " application_id, case_number, previous_id, items, handed_by, handed_by_name, handed_at)"
            " VALUES (:id, :f, :to, :o, :h, :r, :a, :c, :prev, CAST(:items AS jsonb), :by, :name, :now)"),
            {"id": id, "f": from_tenant, "to": to_tenant, "o": origin_tenant, "h": handling_tenant, "r": request_id,
             "a": application_id, "c": case_number, "prev": previous_id, "by": handed_by, "name": handed_by_name,
             "now": now, "items": json.dumps([{"description": i.description, "copies": i.copies,
                                               "material_code": i.material_code} for i in items],
                                             ensure_ascii=False)})

    def handover(self, handover_id: str) -> HandOverRow | None:
        r = self.u.mapping(sql(f"SELECT {_HANDOVER_COLUMNS} FROM {_HANDOVER_FROM} WHERE h.id = :id"),
                           {"id": handover_id})
        return _handover(r) if r else None

    def add_receipt(self, h: HandOverRow, *, received_by: str, received_by_name: str, note: str,
                    now: dt.datetime) -> bool:
        return self.u.execute(sql(
            f"INSERT INTO {S}.handover_receipts (handover_id, to_tenant, from_tenant, origin_tenant, handling_tenant,"
            " received_by, received_by_name, received_at, note)"
            " VALUES (:id, :to, :f, :o, :h, :by, :name, :now, :note) ON CONFLICT (handover_id) DO NOTHING"),
            {"id": h.id, "to": h.to_tenant, "f": h.from_tenant, "o": h.origin_tenant, "h": h.handling_tenant,
             "by": received_by, "name": received_by_name, "now": now, "note": note}) == 1

    def handovers(self, tenant: str, direction: str, pending_only: bool) -> list[HandOverRow]:
        where = {"incoming": "h.to_tenant = :t", "outgoing": "h.from_tenant = :t",
                 "": "(h.to_tenant = :t OR h.from_tenant = :t)"}[direction]
        if pending_only:
            where += " AND r.handover_id IS NULL"
        rows = self.u.mappings(sql(f"SELECT {_HANDOVER_COLUMNS} FROM {_HANDOVER_FROM} WHERE {where}"
                                    " ORDER BY h.handed_at DESC, h.id LIMIT 500"), {"t": tenant})
        return [_handover(r) for r in rows]

    def chain(self, *, application_id: str = "", request_id: str = "") -> list[HandOverRow]:
        """Every visible hop of one case's originals, oldest first."""
        if application_id:
            cond, params = "h.application_id = :a", {"a": application_id}
        else:
            cond, params = "h.request_id = :r", {"r": request_id}
        rows = self.u.mappings(sql(f"SELECT {_HANDOVER_COLUMNS} FROM {_HANDOVER_FROM} WHERE {cond}"
                                    " ORDER BY h.handed_at, length(h.from_tenant) DESC, h.id"), params)
        return [_handover(r) for r in rows]
