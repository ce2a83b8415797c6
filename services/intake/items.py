"""The item version applied for, plain Python: no I/O.

An application keeps a snapshot of the catalogue's item version it was received under (name, case kind,
limits, scenarios and their materials, fees, site inspection): the case finishes under that version
whatever the catalogue publishes later, and the approval service opens the case with its facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidArgument


@dataclass(frozen=True)
class MaterialSpec:
    code: str
    name: str
    core: bool = False
    waivable: bool = False
    makeup_days: int = 0

    @property
    def may_waive(self) -> bool:
        return self.waivable and not self.core


@dataclass(frozen=True)
class ScenarioSpec:
    code: str
    name: str
    materials: tuple[MaterialSpec, ...] = ()

    def material(self, code: str) -> MaterialSpec | None:
        return next((m for m in self.materials if m.code == code), None)


@dataclass(frozen=True)
class ItemSnapshot:
    id: str
    version: int
    tenant: str
    name: str
    case_kind: str                 # 1 即办, 2 承诺
    promised_limit_days: int
    statutory_limit_days: int = 0
    targets: tuple[str, ...] = ()
    department: str = ""
    basic_code: str = ""
    scenarios: tuple[ScenarioSpec, ...] = ()
    item_type: str = ""
    joint: bool = False
    joint_departments: tuple[str, ...] = ()
    has_fees: bool = False
    fee_codes: tuple[str, ...] = ()     # the item's fee references (收费目录 codes)
    site_inspection: str = ""           # 现场踏勘: "" | counted | suspends (the approval clock stops)
    project_facts: bool = False         # the window asks: 政府投资项目 / 重点建设项目 (收费从低)
    auto_approval: str = ""             # 秒批: the rule that decides a 即办件 at acceptance (approval applies it)

    @property
    def immediate(self) -> bool:
        return self.case_kind == "1"

    def scenario(self, code: str) -> ScenarioSpec | None:
        return next((s for s in self.scenarios if s.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "tenant": self.tenant, "name": self.name,
                "case_kind": self.case_kind, "promised_limit_days": self.promised_limit_days,
                "statutory_limit_days": self.statutory_limit_days, "targets": list(self.targets),
                "department": self.department, "basic_code": self.basic_code, "item_type": self.item_type,
                "joint": self.joint, "joint_departments": list(self.joint_departments), "has_fees": self.has_fees,
                "fee_codes": list(self.fee_codes), "site_inspection": self.site_inspection,
                "project_facts": self.project_facts, "auto_approval": self.auto_approval,
                "scenarios": [{"code": s.code, "name": s.name, "materials": [
                    {"code": m.code, "name": m.name, "core": m.core, "waivable": m.waivable,
                     "makeup_days": m.makeup_days} for m in s.materials]} for s in self.scenarios]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ItemSnapshot:
        return cls(
            id=str(d.get("id", "")), version=int(d.get("version", 0) or 0), tenant=str(d.get("tenant", "")),
            name=str(d.get("name", "")), case_kind=str(d.get("case_kind", "")),
            promised_limit_days=int(d.get("promised_limit_days", 0) or 0),
            statutory_limit_days=int(d.get("statutory_limit_days", 0) or 0),
            targets=tuple(d.get("targets", []) or ()), department=str(d.get("department", "")),
            basic_code=str(d.get("basic_code", "")), item_type=str(d.get("item_type", "")),
            joint=bool(d.get("joint", False)), joint_departments=tuple(d.get("joint_departments", []) or ()),
            has_fees=bool(d.get("has_fees", False) or d.get("fees")),
            site_inspection=str(d.get("site_inspection", "")),
            project_facts=bool(d.get("project_facts", False)), auto_approval=str(d.get("auto_approval", "")),
            fee_codes=tuple(d.get("fee_codes") or (str(f.get("fee_code", "")) for f in d.get("fees", []) or ()
                                                   if isinstance(f, Mapping) and f.get("fee_code"))),
            scenarios=tuple(ScenarioSpec(
                code=str(s.get("code", "")), name=str(s.get("name", "")),
                materials=tuple(MaterialSpec(code=str(m.get("code", "")), name=str(m.get("name", "")),
                                             core=bool(m.get("core", False)), waivable=bool(m.get("waivable", False)),
                                             makeup_days=int(m.get("makeup_days", 0) or 0))
                                for m in s.get("materials", []) or []))
                for s in d.get("scenarios", []) or []))


def check_scenario(item: ItemSnapshot, scenario_code: str) -> ScenarioSpec:
    if not scenario_code:
        raise InvalidArgument("scenario_code", "请选择办理情形")
    s = item.scenario(scenario_code)
    if s is None:
        names = "、".join(f"{x.code} {x.name}" for x in item.scenarios)
        raise InvalidArgument("scenario_code", f"事项“{item.name}”没有办理情形“{scenario_code}”（可选：{names}）")
    return s
