"""Importing a province's published item list (事项清单导入): the row rules, plain Python, no I/O.

The list a provincial portal publishes (e.g. Sichuan's, for 广安区) gives per item its department,
the portal's grouping, name, implementation code, basic code, area code, task type and the
department's code — names, codes and types only: no legal basis, conditions, targets, time limits,
scenarios, materials or fees. So each good row becomes a *draft* of the importing unit holding what
every draft holds (`domain.validate_draft`); `Item.publish` refuses it until the unit's admin has
completed it through the normal draft workflow. Nothing is invented to fill the gaps.

Rows that break a rule are refused one by one — line, column and a reason in Chinese — and the rest
go on. A row whose implementation code the unit already holds is not created again.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from services.catalogue import domain
from services.catalogue.domain import CodeFormat, Elements
from shared import divisions
from shared.errors import InvalidArgument
from shared.tenancy import DivisionCode
from shared.versioned import STATUS_LABELS as VERSION_STATUS_LABELS

COLUMNS = ("department", "group", "name", "implementation_code", "basic_code", "area_code", "task_type",
           "dept_code")
COLUMN_LABELS = {"department": "实施部门", "group": "分组", "name": "事项名称", "implementation_code": "实施编码",
                 "basic_code": "基本编码", "area_code": "区划代码", "task_type": "事项类型", "dept_code": "部门编码",
                 "row": "整行"}
ROW = "row"             # the field named when the row as a whole is wrong
UNGROUPED = "未分类"     # the portal's "no group"
_AREA_CODE = re.compile(r"[0-9]{12}")
# The largest list taken in one upload. A default, not a rule of any province: 广安区's 1,135 items are 212 KB,
# so 4 MB holds the largest county's list many times over and stays within gRPC's default message size.
MAX_FILE_BYTES = 4 * 1024 * 1024 - 64 * 1024


class UnreadableFile(Exception):
    """The file cannot be read as an item list at all (empty, no header, a required column missing)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SourceRow:
    line: int                   # line of the file the record starts on (the header is line 1)
    values: tuple[str, ...]
    error: str = ""             # what the CSV reader could not parse, if anything


@dataclass(frozen=True)
class SourceFile:
    header: tuple[str, ...]
    rows: tuple[SourceRow, ...]

    def column(self, name: str) -> int:
        return self.header.index(name)


@dataclass(frozen=True)
class RowProblem:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"第 {self.line} 行 {self.field}（{COLUMN_LABELS.get(self.field, self.field)}）：{self.reason}"


@dataclass(frozen=True)
class DraftRow:
    line: int
    elements: Elements


@dataclass(frozen=True)
class ExistingCodes:
    """What the unit already holds: implementation codes (with the holding item's status) and the
    basic codes of its items that are not cancelled (one live item per basic code)."""

    implementation: Mapping[str, str] = field(default_factory=dict)
    basic_in_use: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AlreadyPresent:
    line: int
    implementation_code: str
    status: str


@dataclass
class ImportPlan:
    to_create: list[DraftRow] = field(default_factory=list)
    already_present: list[AlreadyPresent] = field(default_factory=list)
    refused: list[RowProblem] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def read_csv(text: str) -> SourceFile:
    """The file's header and records. A record the CSV reader cannot parse is kept, with its error,
    to be refused by line; only a file with no usable header is unreadable."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header: tuple[str, ...] | None = None
    rows: list[SourceRow] = []
    last_line = 0
    while True:
        start = last_line + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            last_line = reader.line_num
            if header is None:
                raise UnreadableFile(f"第 {start} 行表头无法解析：{exc}") from None
            rows.append(SourceRow(start, (), f"无法解析的 CSV 记录：{exc}"))
            continue
        last_line = reader.line_num
        if not any(v.strip() for v in values):
            continue                        # a blank line holds no item
        if header is None:
            header = tuple(v.strip() for v in values)
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise UnreadableFile("表头缺少列：" + "、".join(f"{c}（{COLUMN_LABELS[c]}）" for c in missing)
                                     + f"；应为 {','.join(COLUMNS)}")
            doubled = sorted({c for c in header if header.count(c) > 1})
            if doubled:
                raise UnreadableFile("表头有重复的列：" + "、".join(doubled))
            continue
        rows.append(SourceRow(start, tuple(values)))
    if header is None:
        raise UnreadableFile("文件为空（没有表头）")
    return SourceFile(header, tuple(rows))


def read_bytes(data: bytes, source: str = "文件") -> SourceFile:
    """The list as uploaded or read from disk: bounded in size, UTF-8 (with or without a BOM) or GBK/GB18030
    (what provincial portals export), then `read_csv`. Anything else is an unreadable file, said in Chinese."""
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(f"{source}过大：{len(data) // 1024} KB，最大 {MAX_FILE_BYTES // 1024} KB（请分批导入）")
    if not data.strip():
        raise UnreadableFile(f"{source}为空（没有表头）")
    try:
        text = divisions.decode(data, source)
    except divisions.UnreadableDivisions:
        raise UnreadableFile(f"{source}无法识别的文字编码：应为 UTF-8 或 GBK 编码的 CSV 文件"
                             "（如为 Excel 文件，请另存为 CSV）") from None
    if "\x00" in text:
        raise UnreadableFile(f"{source}含有空字符（NUL），不是文本格式的 CSV 文件（如为 Excel 文件，请另存为 CSV）")
    return read_csv(text)


# ---------------------------------------------------------------------------------------------
# Row rules
# ---------------------------------------------------------------------------------------------

def area_code_of(tenant: DivisionCode) -> str:
    """The 12-digit area code a published list writes for a unit (511602 → 511602000000)."""
    return str(tenant).ljust(12, "0")


def map_item_type(value: str, item_types: Mapping[str, str]) -> str:
    """The GB/T 39046 item type of a province's task type, through the province's mapping table
    (data); a province without a table writes GB/T 39046 codes itself."""
    table = item_types or {code: code for code in domain.ITEM_TYPES}
    internal = table.get(value)
    if internal is None or internal not in domain.ITEM_TYPES:
        known = "、".join(f"{k} {domain.ITEM_TYPES.get(v, v)}" for k, v in
                         sorted(table.items(), key=lambda kv: (len(kv[0]), kv[0])))
        raise InvalidArgument("task_type", f"未知的事项类型：{value or '（空）'}（可用的代码：{known}）")
    return internal


def check_row(row: SourceRow, source: SourceFile, *, tenant: DivisionCode, fmt: CodeFormat,
              item_types: Mapping[str, str]) -> DraftRow | list[RowProblem]:
    """A draft of the row, or every problem found in it."""
    if row.error:
        return [RowProblem(row.line, ROW, row.error)]
    if len(row.values) != len(source.header):
        return [RowProblem(row.line, ROW, f"列数不对：有 {len(row.values)} 列，表头为 {len(source.header)} 列"
                                          "（检查是否缺少逗号或名称中的逗号未加引号）")]
    v = {name: row.values[source.column(name)].strip() for name in COLUMNS}
    problems: list[RowProblem] = []

    def refuse(column: str, reason: str) -> None:
        problems.append(RowProblem(row.line, column, reason))

    if not v["name"]:
        refuse("name", "事项名称为空")
    elif len(v["name"]) > domain.MAX_NAME:
        refuse("name", f"事项名称过长：{len(v['name'])} 字，最多 {domain.MAX_NAME} 字")
    if not v["department"]:
        refuse("department", "实施部门为空")
    basic_ok = area_ok = True
    try:
        fmt.check_basic(v["basic_code"], "basic_code")
    except InvalidArgument as exc:
        basic_ok = False
        refuse("basic_code", exc.message)
    expected_area = area_code_of(tenant)
    if not _AREA_CODE.fullmatch(v["area_code"]):
        area_ok = False
        refuse("area_code", f"区划代码应为 12 位数字：{v['area_code'] or '（空）'}")
    elif v["area_code"] != expected_area:
        area_ok = False
        refuse("area_code", f"区划代码 {v['area_code']} 不是本单位的（本单位 {tenant} 为 {expected_area}）")
    try:
        fmt.check_implementation(v["implementation_code"], "implementation_code")
    except InvalidArgument as exc:
        refuse("implementation_code", exc.message)
    else:
        prefix = f"{v['basic_code']}-{v['area_code']}-"
        if basic_ok and area_ok and not v["implementation_code"].startswith(prefix):
            refuse("implementation_code",
                   f"实施编码应以“基本编码-区划代码-”开头（{prefix}…）：{v['implementation_code']}")
    item_type = ""
    try:
        item_type = map_item_type(v["task_type"], item_types)
    except InvalidArgument as exc:
        refuse("task_type", exc.message)
    if problems:
        return problems
    group = v["group"]
    elements = Elements(
        name=v["name"], basic_code=v["basic_code"], implementation_code=v["implementation_code"], item_type=item_type,
        department=v["department"], keywords=(group,) if group and group not in (UNGROUPED, v["name"]) else (),
        # not in the published list: the admin completes them before the draft can be published
        exercise_level="", case_kind="", legal_basis="", acceptance_conditions="", targets=(),
        statutory_limit_days=0, promised_limit_days=0)
    try:
        domain.validate_draft(elements, fmt)
    except InvalidArgument as exc:  # pragma: no cover — the checks above cover every draft rule
        return [RowProblem(row.line, exc.field.removeprefix("elements.") if exc.field else ROW, exc.message)]
    return DraftRow(row.line, elements)


def check_rows(source: SourceFile, *, tenant: DivisionCode, fmt: CodeFormat,
               item_types: Mapping[str, str]) -> list[DraftRow | list[RowProblem]]:
    return [check_row(r, source, tenant=tenant, fmt=fmt, item_types=item_types) for r in source.rows]


def plan_import(checked: Iterable[DraftRow | list[RowProblem]], existing: ExistingCodes) -> ImportPlan:
    """Which drafts to create: not one the unit already holds (same implementation code), not a
    second of the same code within the file, not a second live item of a basic code."""
    plan = ImportPlan()
    seen_impl: dict[str, int] = {}
    seen_basic: dict[str, int] = {}
    for c in checked:
        if isinstance(c, list):
            plan.refused.extend(c)
            continue
        el = c.elements
        impl, basic = el.implementation_code, el.basic_code
        if impl in existing.implementation:
            plan.already_present.append(AlreadyPresent(c.line, impl, existing.implementation[impl]))
        elif impl in seen_impl:
            plan.refused.append(RowProblem(c.line, "implementation_code",
                                           f"与第 {seen_impl[impl]} 行的实施编码重复：{impl}"))
        elif basic in seen_basic:
            plan.refused.append(RowProblem(c.line, "basic_code",
                                           f"与第 {seen_basic[basic]} 行的基本编码相同（{basic}），"
                                           "同一单位同一基本编码只能有一个事项"))
        elif basic in existing.basic_in_use:
            plan.refused.append(RowProblem(c.line, "basic_code",
                                           f"本单位已有基本编码为 {basic} 的事项（实施编码不同），未重复创建"))
        else:
            seen_impl[impl] = seen_basic[basic] = c.line
            plan.to_create.append(c)
    return plan


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

STATUS_LABELS = {str(s): label for s, label in VERSION_STATUS_LABELS.items()}


@dataclass
class ImportReport:
    tenant: str
    rows: int
    created: list[int] = field(default_factory=list)       # lines (in a preview: the lines that would be created)
    already_present: list[AlreadyPresent] = field(default_factory=list)
    refused: list[RowProblem] = field(default_factory=list)
    confirmed: bool = True                                   # False: a preview, nothing was written

    @property
    def refused_lines(self) -> list[int]:
        return sorted({p.line for p in self.refused})

    def summary(self) -> list[str]:
        """What the operator reads, in Chinese."""
        out = [("" if self.confirmed else "预览（尚未导入）：")
               + f"导入单位 {self.tenant} 的事项清单：共 {self.rows} 行",
               f"  {'新建草稿' if self.confirmed else '将新建草稿'}：{len(self.created)} 项",
               f"  已存在：{len(self.already_present)} 项（本单位已有相同实施编码的事项，未重复创建）"]
        by_status: dict[str, int] = {}
        for a in self.already_present:
            by_status[a.status] = by_status.get(a.status, 0) + 1
        if by_status:
            out[-1] += "，其中" + "、".join(f"{STATUS_LABELS.get(s, s)} {n} 项" for s, n in sorted(by_status.items()))
        out.append(f"  拒绝：{len(self.refused_lines)} 行" + ("，逐行如下：" if self.refused else ""))
        out.extend(f"    {p}" for p in sorted(self.refused, key=lambda p: (p.line, COLUMNS.index(p.field)
                                                                         if p.field in COLUMNS else -1)))
        if self.created:
            out.append("新建的事项均为草稿：清单只有名称、部门、编码和类型，须由本单位管理员补全行使层级、办件类型、"
                       "设定依据、受理条件、服务对象、办结时限和办理情形（申请材料）后才能发布。")
        return out
