"""The applicant (申请人) and prefill (表单只填一次), plain Python: no I/O.

Who may apply for an item (自然人 with a resident ID, 法人 with a unified social credit code), how an
applicant's fields are checked, what the tenant keeps of them to prefill the next form, and the ID
suffix the public progress lookup asks for. The ID number rules themselves are the platform's one
rule (`shared.idnumbers`), shared with agency: a resident a village agent registers is one the
window takes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from shared.errors import InvalidArgument
from shared.idnumbers import check_id_number, resident_id_check_char

MAX_NAME = 100
TARGET_LABELS = {"natural_person": "自然人", "legal_person": "法人"}
ID_TYPES = {"resident_id": "居民身份证", "uscc": "统一社会信用代码"}
KIND_OF_ID = {"resident_id": "natural_person", "uscc": "legal_person"}

@dataclass(frozen=True)
class Applicant:
    kind: str = ""
    name: str = ""
    id_type: str = ""
    id_number: str = ""
    phone: str = ""
    address: str = ""
    organisation: str = ""
    dishonest: bool = False        # 失信被执行人 (from the credit list, per application)

    PROFILE_FIELDS = ("kind", "name", "id_type", "id_number", "phone", "address", "organisation")

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in (*self.PROFILE_FIELDS, "dishonest")}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Applicant:
        d = d or {}
        return cls(**{f: str(d.get(f, "") or "").strip() for f in cls.PROFILE_FIELDS},
                   dishonest=bool(d.get("dishonest", False)))

    def profile(self) -> dict[str, str]:
        """What the tenant keeps to prefill the next form (the credit flag is not kept: it is
        checked against the credit list each time)."""
        return {f: getattr(self, f) for f in self.PROFILE_FIELDS}

    @property
    def id_suffix(self) -> str:
        return self.id_number[-6:]

    @property
    def masked_id(self) -> str:
        n = self.id_number
        return n[:6] + "*" * (len(n) - 10) + n[-4:] if len(n) > 10 else n


def prefill(given: Applicant, profile: Mapping[str, str] | None) -> Applicant:
    """Fields left empty are taken from the tenant's record of the same person or company."""
    if not profile:
        return given
    changes = {f: str(profile.get(f, "") or "") for f in Applicant.PROFILE_FIELDS
               if not getattr(given, f) and profile.get(f)}
    return replace(given, **changes)


def validate_applicant(a: Applicant, targets: Sequence[str], today: dt.date, prefix: str = "applicant") -> Applicant:
    number = a.id_number.strip().upper()
    if not number:
        raise InvalidArgument(f"{prefix}.id_number", "请填写申请人证件号码")
    id_type = a.id_type.strip()
    if not id_type:
        # from the applicant's kind, else a valid resident ID, else the item's only target, else the shape
        if a.kind in TARGET_LABELS:
            id_type = "resident_id" if a.kind == "natural_person" else "uscc"
        elif re.fullmatch(r"\d{17}[\dX]", number) and resident_id_check_char(number[:17]) == number[17]:
            id_type = "resident_id"
        elif len(targets) == 1:
            id_type = "resident_id" if targets[0] == "natural_person" else "uscc"
        else:
            id_type = "resident_id" if re.fullmatch(r"\d+X?", number) else "uscc"
    if id_type not in ID_TYPES:
        raise InvalidArgument(f"{prefix}.id_type",
                              f"证件类型应为居民身份证（resident_id）或统一社会信用代码（uscc）：{id_type}")
    kind = a.kind.strip() or KIND_OF_ID[id_type]
    if kind not in TARGET_LABELS:
        raise InvalidArgument(f"{prefix}.kind", f"申请人类型应为自然人（natural_person）或法人（legal_person）：{kind}")
    if KIND_OF_ID[id_type] != kind:
        wanted = ID_TYPES["resident_id" if kind == "natural_person" else "uscc"]
        raise InvalidArgument(f"{prefix}.id_type", f"{TARGET_LABELS[kind]}应使用{wanted}")
    if targets and kind not in targets:
        allowed = "、".join(TARGET_LABELS.get(t, t) for t in targets)
        raise InvalidArgument(f"{prefix}.kind", f"该事项的服务对象为{allowed}，申请人类型不符")
    number = check_id_number(id_type, number, f"{prefix}.id_number", today)
    name = a.name.strip()
    if not name:
        raise InvalidArgument(f"{prefix}.name", "请填写申请人姓名或单位名称")
    if len(name) > MAX_NAME:
        raise InvalidArgument(f"{prefix}.name", f"申请人名称过长（最多 {MAX_NAME} 字）")
    phone = a.phone.strip()
    if phone and not re.fullmatch(r"[0-9+\-() ]{5,20}", phone):
        raise InvalidArgument(f"{prefix}.phone", "联系电话格式不正确")
    if len(a.address) > 200:
        raise InvalidArgument(f"{prefix}.address", "地址过长（最多 200 字）")
    if len(a.organisation) > MAX_NAME:
        raise InvalidArgument(f"{prefix}.organisation", f"过长（最多 {MAX_NAME} 字）")
    return replace(a, kind=kind, id_type=id_type, id_number=number, name=name, phone=phone,
                   address=a.address.strip(), organisation=a.organisation.strip())


def check_full_id(number: str, field_name: str = "id_number") -> str:
    """An ID number as the public lookup takes it: all 18 characters (a resident ID or a unified social
    credit code) — a part of one is no secret. Whether it is the applicant's is for the lookup."""
    n = (number or "").strip().upper()
    if not re.fullmatch(r"[0-9A-Z]{18}", n):
        raise InvalidArgument(field_name, "请输入申请人完整的 18 位证件号码")
    return n
