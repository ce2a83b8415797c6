"""The division files as people have them (统计用区划代码), read into units with a report by line.

Two shapes are read:

- a unit list `code,name[,…]` (what `import-units` takes, and what `infra.demo.extract_divisions` writes);
- the national files as published (areas.csv `code,name,cityCode,provinceCode`, streets.csv
  `code,name,areaCode,…`, villages `code,name,streetCode,…,areaCode`), from which one county's tree is taken.

Files come in UTF-8, UTF-8 with a byte-order mark (as Excel saves "CSV UTF-8"), or GBK/GB18030 (as Excel
saves "CSV" on a Chinese Windows): `decode` reads all three. A bad row is reported by its file and line and
the others go on; a township or village whose parent is neither in the file nor already known is refused,
never imported as an orphan. Pure: no I/O beyond the text given.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from shared.tenancy import DivisionCode, UnitKind

CODE = re.compile(r"\d{2}|\d{4}|\d{6}|\d{9}|\d{12}")
KIND_LABELS = {UnitKind.PROVINCE: "省", UnitKind.CITY: "市", UnitKind.COUNTY: "县（区）",
               UnitKind.TOWNSHIP: "乡镇（街道）", UnitKind.VILLAGE: "村（社区）"}


class UnreadableDivisions(ValueError):
    """A file that cannot be read at all (no usable header, not text in any encoding we know)."""


def decode(data: bytes, source: str = "文件") -> str:
    """The file's text: UTF-8 (with or without a BOM) first, then GB18030 (a superset of GBK and GB2312)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableDivisions(f"{source}：无法识别的文字编码（应为 UTF-8 或 GBK）")


@dataclass(frozen=True)
class SourceLine:
    source: str       # the file's name as the operator knows it
    line: int
    code: str
    name: str


@dataclass(frozen=True)
class LineProblem:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source} 第 {self.line} 行：{self.message}"


@dataclass
class UnitsReport:
    """Which lines became units and which were refused (and why)."""

    accepted: list[SourceLine] = field(default_factory=list)
    refused: list[LineProblem] = field(default_factory=list)

    def counts(self) -> dict[UnitKind, int]:
        out: dict[UnitKind, int] = {}
        for row in self.accepted:
            kind = DivisionCode(row.code).kind
            out[kind] = out.get(kind, 0) + 1
        return out

    def summary(self) -> list[str]:
        counts = self.counts()
        kinds = "、".join(f"{KIND_LABELS[k]} {counts[k]} 个" for k in KIND_LABELS if k in counts)
        out = [f"导入单位：{len(self.accepted)} 个" + (f"（{kinds}）" if kinds else "")]
        out.append(f"拒绝：{len(self.refused)} 行" + ("，逐行如下：" if self.refused else ""))
        out.extend(f"  {p}" for p in self.refused)
        return out


def _records(text: str, source: str, required: tuple[str, ...]) -> Iterable[tuple[int, dict[str, str]]]:
    """(line, row) of a CSV text with a header naming at least `required`."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise UnreadableDivisions(f"{source}：表头缺少列 {'、'.join(missing)}（应为 {','.join(required)},…）")
    reader.fieldnames = header
    line = 1
    for row in reader:
        line_no = line + 1
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        yield line_no, {k: (v or "").strip() if isinstance(v, str) else "" for k, v in row.items() if k}


def unit_lines(text: str, source: str) -> list[SourceLine]:
    """The lines of a unit list (`code,name[,…]`)."""
    return [SourceLine(source, n, row["code"], row["name"]) for n, row in _records(text, source, ("code", "name"))]


def county_lines(county: str, *, areas: tuple[str, str], streets: tuple[str, str],
                 villages: tuple[str, str]) -> list[SourceLine]:
    """One county's lines from the national files, each given as (text, name): its row of areas.csv, its
    townships from streets.csv (`areaCode`), its villages from the villages file (`areaCode`)."""
    DivisionCode.parse(county, "county")
    if len(county) != 6:
        raise UnreadableDivisions(f"县（区）代码应为 6 位数字：{county}")
    out: list[SourceLine] = []
    for (text, source), parent_column in ((areas, None), (streets, "areaCode"), (villages, "areaCode")):
        required = ("code", "name") if parent_column is None else ("code", "name", parent_column)
        for n, row in _records(text, source, required):
            mine = row["code"] == county if parent_column is None else (
                row[parent_column] == county or row["code"].startswith(county))
            if mine:
                out.append(SourceLine(source, n, row["code"], row["name"]))
    if not any(r.code == county for r in out):
        raise UnreadableDivisions(f"{areas[1]} 中没有县（区）{county}")
    return out


def check_units(lines: Iterable[SourceLine], *, known: Collection[str] = ()) -> UnitsReport:
    """Accept the lines that make units of a tree: a valid code (2, 4, 6, 9 or 12 digits), a name, once each,
    and for a township or a village a parent that is accepted here or `known` already (a county's own
    parent, the city, need not be a tenant)."""
    report = UnitsReport()
    first_line: dict[str, SourceLine] = {}
    candidates: list[SourceLine] = []
    for row in lines:
        if not CODE.fullmatch(row.code):
            report.refused.append(LineProblem(row.source, row.line,
                                              f"区划代码“{row.code}”应为 2、4、6、9 或 12 位数字"))
        elif not row.name:
            report.refused.append(LineProblem(row.source, row.line, f"区划代码 {row.code} 缺少名称"))
        elif len(row.name) > 100:
            report.refused.append(LineProblem(row.source, row.line, f"区划代码 {row.code} 的名称过长"))
        elif row.code in first_line:
            seen = first_line[row.code]
            report.refused.append(LineProblem(row.source, row.line,
                                              f"区划代码 {row.code} 与 {seen.source} 第 {seen.line} 行重复"))
        else:
            first_line[row.code] = row
            candidates.append(row)
    ok = {r.code for r in candidates}
    while True:             # a refused township takes its villages with it
        orphans = [r for r in candidates if r.code in ok and len(r.code) > 6
                   and (parent := str(DivisionCode(r.code).parent)) not in ok and parent not in known]
        if not orphans:
            break
        for r in orphans:
            ok.discard(r.code)
    for r in candidates:
        if r.code in ok:
            report.accepted.append(r)
        else:
            parent = str(DivisionCode(r.code).parent)
            report.refused.append(LineProblem(
                r.source, r.line, f"上级单位 {parent} 不在单位树中，{r.code}（{r.name}）未导入"
                                  "（请先导入或一并导入其上级：乡镇（街道）文件 streets.csv）"))
    report.refused.sort(key=lambda p: (p.source, p.line))
    return report
