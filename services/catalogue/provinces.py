"""A province's record (issue 23, item 3), as plain rules: what it holds and what a valid one is (no I/O).

The province's administrator (`tenant_admin` of a 2-digit tenant: the unit kind above the city and the county)
manages it; the services that need a per-province default read it instead of a constant."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.errors import InvalidArgument, PermissionDenied
from shared.provinces import check_supervision_thresholds
from shared.tenancy import Principal, Role, UnitKind

_PROVINCE = re.compile(r"^\d{2}$")
_KEY_REF = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")
MAX_N_TONG = 40


@dataclass(frozen=True)
class ProvinceRecord:
    tenant_code: str
    name: str
    calendar_region: str
    payment_key_ref: str = ""                       # the name of the province's payment key set, never the key
    n_tong: tuple[str, ...] = field(default_factory=tuple)   # 三级N同: the elements the three levels keep the same
    # complaint / rating defaults (services/complaints/domain.py ComplaintRules: the seeds give no number)
    complaint_working_days: bool = True
    rectification_days: int = 15
    # supervision's warning / red-card thresholds, "<rule id>.<threshold>" → value (shared.provinces
    # SUPERVISION_THRESHOLDS); a threshold not named keeps supervision's documented default
    supervision_thresholds: Mapping[str, float] = field(default_factory=dict)
    updated_by: str = ""

    def __post_init__(self) -> None:
        if not _PROVINCE.match(self.tenant_code or ""):
            raise InvalidArgument("tenant_code", f"省代码应为 2 位数字：{self.tenant_code!r}")
        name = (self.name or "").strip()
        if not name or len(name) > 50:
            raise InvalidArgument("name", "请填写省名称（不超过 50 个字）")
        if not _PROVINCE.match(self.calendar_region or ""):
            raise InvalidArgument("calendar_region", f"日历地区应为 2 位省代码：{self.calendar_region!r}")
        if not _KEY_REF.match(self.payment_key_ref or ""):
            raise InvalidArgument("payment_key_ref",
                                  "支付平台密钥引用只能是字母、数字和 _.:-（不超过 64 位），不能填写密钥本身")
        elements = tuple((e or "").strip() for e in self.n_tong)
        if any(not e or len(e) > 50 for e in elements) or len(elements) > MAX_N_TONG \
                or len(set(elements)) != len(elements):
            raise InvalidArgument("n_tong",
                                  f"三级N同要素应为不重复、不为空的名称（每项不超过 50 个字，最多 {MAX_N_TONG} 项）")
        if isinstance(self.rectification_days, bool) or not isinstance(self.rectification_days, int) \
                or not 1 <= self.rectification_days <= 60:
            raise InvalidArgument("rectification_days", "差评整改期限应为 1 到 60 天")
        if not isinstance(self.complaint_working_days, bool):
            raise InvalidArgument("complaint_working_days", "应为是或否")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "n_tong", elements)
        object.__setattr__(self, "supervision_thresholds", check_supervision_thresholds(self.supervision_thresholds))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, tenant_code: str) -> ProvinceRecord:
        known = {"name", "calendar_region", "payment_key_ref", "n_tong", "complaint_working_days",
                 "rectification_days", "supervision_thresholds"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgument(unknown[0], "未知字段")
        n_tong = data.get("n_tong", ())
        if not isinstance(n_tong, list | tuple):
            raise InvalidArgument("n_tong", "三级N同要素应为名称列表")
        return cls(tenant_code=tenant_code, name=data.get("name", ""),
                   calendar_region=data.get("calendar_region") or tenant_code,
                   payment_key_ref=data.get("payment_key_ref", ""), n_tong=tuple(n_tong),
                   complaint_working_days=data.get("complaint_working_days", True),
                   rectification_days=data.get("rectification_days", 15),
                   supervision_thresholds=data.get("supervision_thresholds") or {})


def require_province_admin(p: Principal, province: str) -> None:
    """Only the province's own administrator manages its record (a county's admin, or another province's, may not)."""
    p.require(Role.TENANT_ADMIN)
    if p.tenant.kind is not UnitKind.PROVINCE:
        raise PermissionDenied("只有省级管理员可以维护省级配置", field="tenant_code")
    if str(p.tenant) != province:
        raise PermissionDenied("省级管理员只能维护本省的配置", field="tenant_code")
