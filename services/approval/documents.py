"""Printable Chinese documents of a case (A4 PDF, the platform's embedded document font, `shared.pdf`):

- 准予行政许可决定书 (the certificate record) with its number and the tenant's one approval seal;
- 不予行政许可决定书 with the reasons and the applicant's remedies (行政复议 60 日 / 行政诉讼 6 个月);
- 特别程序（暂停计时）告知书: the applicant is told in writing of each suspension and its length.

Rendered on demand from the case's records, so a document always says what the records say.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

from services.approval.case import Case
from services.approval.domain import PROCEDURES, LedgerEntry, LedgerKind, Outcome
from shared.calendar import DeadlineResult
from shared.pdf import base_style, drawable, markup, register_font

RED = colors.HexColor("#c8161d")


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    base = base_style(12, 20)
    return {
        "body": base,
        "indent": ParagraphStyle("indent", parent=base, firstLineIndent=24),
        "title": ParagraphStyle("title", parent=base, fontSize=20, leading=30, alignment=TA_CENTER),
        "number": ParagraphStyle("number", parent=base, alignment=TA_CENTER, fontSize=11),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=13, textColor=colors.dimgrey),
    }


def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(markup(text), _styles()[style])


def _date_zh(d) -> str:
    return f"{d.year} 年 {d.month} 月 {d.day} 日"


class SealStamp(Flowable):
    """The approval seal: a red ring, a star, the seal's name along the upper arc and its code below."""

    def __init__(self, name: str, code: str, size: float = 42 * mm):
        super().__init__()
        self.name, self.code, self.size = name, code, size
        self.width = self.height = size
        self.hAlign = "RIGHT"                  # over the issuing authority's name, as on paper

    def draw(self) -> None:
        c = self.canv
        r = self.size / 2
        c.saveState()
        c.translate(r, r)
        c.setStrokeColor(RED)
        c.setFillColor(RED)
        c.setLineWidth(2.2)
        c.circle(0, 0, r - 2, stroke=1, fill=0)
        # the five-pointed star
        star_r = r * 0.28
        points = []
        for i in range(10):
            ang = math.pi / 2 + i * math.pi / 5
            rad = star_r if i % 2 == 0 else star_r * 0.4
            points.append((rad * math.cos(ang), rad * math.sin(ang)))
        path = c.beginPath()
        path.moveTo(*points[0])
        for pt in points[1:]:
            path.lineTo(*pt)
        path.close()
        c.drawPath(path, stroke=0, fill=1)
        # the name along the arc, from left to right over the top
        text = drawable(self.name)
        font_size = max(7.0, min(12.0, (math.pi * 1.25 * (r - 9)) / max(len(text), 1)))
        c.setFont(register_font(), font_size)
        span = math.radians(250)
        start = math.pi / 2 + span / 2
        step = span / max(len(text) - 1, 1)
        for i, ch in enumerate(text):
            ang = start - i * step
            c.saveState()
            c.translate((r - 6 - font_size) * math.cos(ang), (r - 6 - font_size) * math.sin(ang))
            c.rotate(math.degrees(ang) - 90)
            c.drawCentredString(0, 0, ch)
            c.restoreState()
        c.setFont(register_font(), 7)
        c.drawCentredString(0, -r * 0.55, self.code)
        c.restoreState()


def _build(title: str, story: list, author: str) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=25 * mm, rightMargin=25 * mm, topMargin=25 * mm,
                            bottomMargin=20 * mm, title=title, author=author, creator="sanji")
    doc.build(story)
    return buf.getvalue()


def render_certificate(case: Case) -> bytes:
    """准予行政许可决定书, sealed with the tenant's one approval seal."""
    d, x = case.decision, case.certificate
    assert d is not None and x is not None
    story = [
        _p("准予行政许可决定书", "title"), _p(x.number, "number"), Spacer(1, 8 * mm),
        _p(f"{x.holder or '申请人'}："),
        _p(f"你方于 {_date_zh(case.accepted_on)} 提出的“{case.item_name}”申请（办件编号：{case.case_number}），"
           "本机关已依法受理。经审查，该申请符合法定条件、标准，根据《中华人民共和国行政许可法》第三十八条第一款的规定，"
           "决定准予行政许可。", "indent"),
    ]
    if d.opinion:
        story.append(_p(f"审批意见：{d.opinion}", "indent"))
    story += [
        _p(f"许可事项：{case.item_name}" + (f"（{case.scenario_name}）" if case.scenario_name else ""), "indent"),
        _p(f"证件编号：{x.number}", "indent"),
        _p("本决定书自作出之日起生效。请于决定之日起十个工作日内到综合窗口领取，或按约定方式邮寄送达。", "indent"),
        Spacer(1, 12 * mm),
        SealStamp(x.seal_name, x.seal_code),
        _p(x.seal_name, "right"),
        _p(_date_zh(d.decided_on), "right"),
        Spacer(1, 8 * mm),
        _p(f"决定人：{d.decider_name}　　办件编号：{case.case_number}", "small"),
    ]
    return _build("准予行政许可决定书", story, x.seal_name)


def render_decision(case: Case) -> bytes:
    """The written decision: approval (as the certificate) or refusal with reasons and remedies."""
    d = case.decision
    assert d is not None
    if d.outcome == Outcome.APPROVED and case.certificate is not None:
        return render_certificate(case)
    story = [
        _p("不予行政许可决定书", "title"), _p(d.document_number, "number"), Spacer(1, 8 * mm),
        _p(f"{case.applicant_name or '申请人'}："),
        _p(f"你方于 {_date_zh(case.accepted_on)} 提出的“{case.item_name}”申请（办件编号：{case.case_number}），"
           "本机关已依法受理。经审查，该申请不符合法定条件、标准，根据《中华人民共和国行政许可法》第三十八条第二款的规定，"
           "决定不予行政许可。理由如下：", "indent"),
    ]
    for i, reason in enumerate(d.reasons, 1):
        story.append(_p(f"{i}. {reason}", "indent"))
    if d.opinion:
        story.append(_p(f"审批意见：{d.opinion}", "indent"))
    story += [_p(d.remedies, "indent"), Spacer(1, 12 * mm)]
    if case.seal is not None:
        story += [SealStamp(case.seal.name, case.seal.code), _p(case.seal.name, "right")]
    story += [_p(_date_zh(d.decided_on), "right"), Spacer(1, 8 * mm),
              _p(f"决定人：{d.decider_name}　　办件编号：{case.case_number}", "small")]
    return _build("不予行政许可决定书", story, case.seal.name if case.seal else case.tenant)


def render_suspension_notice(case: Case, entry: LedgerEntry, promised: DeadlineResult,
                             statutory: DeadlineResult) -> bytes:
    """特别程序（暂停计时）告知书: which procedure, from when, how long, and that its time is not counted."""
    assert entry.on_date is not None
    name = PROCEDURES.get(entry.procedure, entry.procedure)
    resume = next((e for e in case.ledger if e.kind == LedgerKind.RESUME and e.ref == entry.id), None)
    story = [
        _p("特别程序（暂停计时）告知书", "title"), _p(entry.notice_number, "number"), Spacer(1, 8 * mm),
        _p(f"{case.applicant_name or '申请人'}："),
        _p(f"你方申请的“{case.item_name}”（办件编号：{case.case_number}），因需要进行{name}，"
           f"自 {_date_zh(entry.on_date)} 起暂停计算办理时限，预计需 {entry.days} 个工作日。"
           f"依照《中华人民共和国行政许可法》第四十五条的规定，{name}所需时间不计算在办理期限内。", "indent"),
        _p(f"事由：{entry.reason}", "indent"),
    ]
    if resume is not None and resume.on_date is not None:
        story.append(_p(f"该程序已于 {_date_zh(resume.on_date)} 结束，恢复计算办理时限。", "indent"))
    for label, result in (("承诺办结", promised), ("法定办结", statutory)):
        if result.due is not None:
            text = f"按现行记录，{label}期限为 {_date_zh(result.due)}"
            story.append(_p(text + ("（暂定）。" if result.provisional else "。"), "indent"))
    if any(r.due is None for r in (promised, statutory)):
        story.append(_p("程序结束、恢复计时后，本机关将重新计算并告知办结期限。", "indent"))
    story += [Spacer(1, 16 * mm), _p(_date_zh(entry.at.date()), "right"), Spacer(1, 8 * mm),
              _p(f"经办人：{entry.by_name or entry.by}　　办件编号：{case.case_number}", "small")]
    return _build("特别程序（暂停计时）告知书", story, case.tenant)
