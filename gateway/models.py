"""Request bodies of the REST edge. Types are checked here (422 naming the field); the rules of the
catalogue are checked by the catalogue service (also 422 naming the field)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gateway.rest import Strict
from shared.provinces import SUPERVISION_THRESHOLDS


class MaterialIn(Strict):
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    core: bool = False
    waivable: bool = False
    makeup_days: int = 0
    copies: int = 1
    form: str = ""
    source: str = ""
    sample: str = ""
    notes: str = ""


class ScenarioIn(Strict):
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    description: str = ""
    materials: list[MaterialIn] = []


class FeeIn(Strict):
    fee_code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    basis: str = ""
    standard: str = ""


class ElementsIn(Strict):
    """The standard elements of an item (三级十同)."""

    name: str = Field(description="事项名称")
    basic_code: str = Field(description="基本编码（按本省编码规则）")
    implementation_code: str = ""
    item_type: str = Field(description="事项类型，GB/T 39046：01 许可 … 20 公共服务")
    exercise_level: str = Field(description="行使层级：4 县级、5 乡镇级、6 村级、7 分级")
    case_kind: str = Field(description="办件类型：1 即办件、2 承诺件")
    department: str
    legal_basis: str
    acceptance_conditions: str
    targets: list[Literal["natural_person", "legal_person"]]
    statutory_limit_days: int
    promised_limit_days: int
    scenarios: list[ScenarioIn] = []
    fees: list[FeeIn] = []
    keywords: list[str] = []
    handling_place: str = ""
    handling_hours: str = ""
    consult_phone: str = ""
    complaint_phone: str = ""
    steps: list[str] = []
    online: bool = False
    max_trips: int = 1
    joint: bool = False
    joint_departments: list[str] = []
    site_inspection: str = ""          # "" | counted | suspends (现场踏勘)
    project_facts: bool = Field(False, description="受理时询问是否政府投资项目、重点建设项目（收费从低）")
    auto_approval: str = Field("", max_length=64, description="秒批规则（仅即办件），如 age_at_least:80；空为不秒批")


class CreateItemIn(Strict):
    elements: ElementsIn


class AdjustItemIn(Strict):
    elements: ElementsIn
    reason: str = Field(description="调整理由")


class CancelItemIn(Strict):
    reason: str = Field(description="取消理由")


class DelegateItemIn(Strict):
    target_tenants: list[str] = Field(description="下级单位区划代码")
    kind: Literal["delegated", "proxy", "collect"] = Field(
        description="delegated 下放；proxy 乡镇或村代办；collect 代收（下级窗口代上级受理，上级决定）")
    reason: str = ""


_THRESHOLD_CEILING = max(high for _, high in SUPERVISION_THRESHOLDS.values())


class ProvinceIn(Strict):
    """A province's record (issue 23): written by the province's own administrator."""
    name: str = Field(description="省名称")
    calendar_region: str = Field("", description="日历地区（空为本省）")
    payment_key_ref: str = Field("", description="支付平台密钥引用（密钥集名称，不是密钥本身）")
    n_tong: list[str] = Field(default_factory=list, description="三级N同要素")
    complaint_working_days: bool = Field(True, description="投诉时限的“日”是否按工作日计算")
    rectification_days: int = Field(15, description="差评整改期限（天）")
    # bounded at the edge by the widest of the thresholds' own ranges; each is checked against its own by the catalogue
    supervision_thresholds: dict[str, Annotated[float, Field(ge=0, le=_THRESHOLD_CEILING)]] = Field(
        default_factory=dict, max_length=len(SUPERVISION_THRESHOLDS),
        description="电子监察黄牌/红牌阈值（“规则.阈值”→数值；未列出的按默认值）")
