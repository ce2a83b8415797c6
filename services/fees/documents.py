"""Documents people keep: the payment notice (缴款书) and, once paid, the receipt (the same notice
countersigned), and the daily reconciliation report (CSV and PDF). Pure functions: no database.

PDFs embed the platform's document font (`shared.pdf`), as every printable document does.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from functools import lru_cache

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.fees.domain import CaseFees
from services.fees.money import yuan
from services.fees.payments import MATCH_LABELS, MatchKind
from shared.clock import CHINA_TZ
from shared.pdf import base_style, markup

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ["", "拾", "佰", "仟"]
_SECTIONS = ["", "万", "亿", "万亿"]
NOTICE_STATUS_LABELS = {"issued": "待缴款", "paid": "已缴款", "void": "已作废"}


def capital_amount(fen: int) -> str:
    """Amount in Chinese capitals as printed on notes: 16050 → 人民币壹佰陆拾元伍角整."""
    if fen < 0:
        raise ValueError("negative amount")
    yuan_part, jiao, cents = fen // 100, fen // 10 % 10, fen % 10
    out = _integer_capitals(yuan_part) + "元" if yuan_part else ""
    if jiao == 0 and cents == 0:
        return f"人民币{out or '零元'}整"
    if jiao:
        out += _DIGITS[jiao] + "角"
    elif yuan_part:
        out += "零"
    if cents:
        out += _DIGITS[cents] + "分"
    else:
        out += "整"
    return "人民币" + out


def _integer_capitals(n: int) -> str:
    digits = str(n)
    out, zero = "", False
    for i, ch in enumerate(digits):
        pos = len(digits) - 1 - i
        d = int(ch)
        if d == 0:
            zero = True
        else:
            if zero and out:
                out += "零"
            zero = False
            out += _DIGITS[d] + _UNITS[pos % 4]
        if pos % 4 == 0 and pos and int(digits[max(0, i - 3):i + 1]):
            out += _SECTIONS[pos // 4]
    return out


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    base = base_style(10, 15)
    return {
        "body": base,
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=26, alignment=TA_CENTER),
        "sub": ParagraphStyle("sub", parent=base, fontSize=10, alignment=TA_CENTER, textColor=colors.dimgrey),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9, leading=13),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10, textColor=colors.dimgrey),
    }


def _p(text: str, style: str = "cell") -> Paragraph:
    return Paragraph(markup(text), _styles()[style])


def _grid(rows: list[list], widths: list[float], header: bool = True) -> Table:
    t = Table([[c if isinstance(c, Paragraph) else _p(c) for c in r] for r in rows], colWidths=widths, repeatRows=1)
    style = [("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")))
    t.setStyle(TableStyle(style))
    return t


def _qr(url: str, size: float = 28 * mm) -> Drawing:
    w = QrCodeWidget(url)
    x0, y0, x1, y1 = w.getBounds()
    d = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    d.add(w)
    return d


def _cn_time(value) -> str:
    if not value:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(CHINA_TZ).strftime("%Y年%m月%d日 %H:%M")


def render_notice_pdf(case: CaseFees, notice: dict, *, unit_name: str, lookup_url: str) -> bytes:
    """The notice (缴款书); once paid, the receipt with the countersignature."""
    paid = notice["status"] == "paid"
    title = "政府非税收入缴款收据" if paid else "政府非税收入一般缴款书"
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=f"{title} {notice['notice_number']}", author=unit_name,
                            creator="sanji")
    serial = f"　　序号：{notice['serial']}" if notice.get("serial") else ""
    story = [_p(title, "title"), _p(f"缴款书编号：{notice['notice_number']}　　查验码：{notice['verification_code']}"
                                    f"{serial}　　状态：{NOTICE_STATUS_LABELS.get(notice['status'], notice['status'])}",
                                    "sub"),
             Spacer(1, 5 * mm)]
    head = [["办件编号", case.case_number, "开具日期", _cn_time(notice["issued_at"])],
            ["缴款人", case.applicant_name or "—", "办理事项", case.item_name or "—"],
            ["收款人（国库/非税收入）", notice["payee_name"], "收款账号", notice["payee_account"]],
            ["收款银行", notice["payee_bank"], "收费方式", "一个窗口收费，收缴分离"]]
    story.append(_grid(head, [34 * mm, 56 * mm, 24 * mm, 64 * mm], header=False))
    story.append(Spacer(1, 4 * mm))
    rows = [["序号", "收费项目", "执收单位", "计算", "核定金额（元）", "减免（元）", "应缴（元）"]]
    for x in case.lines:
        reduction = yuan(x.waived_fen) + (f"\n{x.waiver_reason}" if x.waiver_reason else "")
        rows.append([str(x.line_no), f"{x.name}\n{x.fee_code}", x.collecting_unit, x.calculation, yuan(x.amount_fen),
                     reduction, yuan(x.due_fen)])
    rows.append(["", "合计", "", capital_amount(notice["total_fen"]), "", "", yuan(notice["total_fen"])])
    story.append(_grid(rows, [10 * mm, 34 * mm, 30 * mm, 52 * mm, 18 * mm, 16 * mm, 18 * mm]))
    story.append(Spacer(1, 3 * mm))
    bases = "；".join(dict.fromkeys(f"{x.name}：{x.basis}" for x in case.lines))
    story.append(_p(f"收费依据：{bases}", "small"))
    story.append(Spacer(1, 4 * mm))
    if paid:
        story.append(_grid([
            ["缴款时间", _cn_time(notice["paid_at"]), "支付流水号", notice["payment_id"] or ""],
            ["收据摘要（SM3）", _p(notice["receipt_digest"] or "", "small"), "签章密钥",
             notice["receipt_signer"] or ""],
            ["电子签章（SM2）", _p(notice["receipt_signature"] or "", "small"), "", ""],
        ], [30 * mm, 70 * mm, 24 * mm, 54 * mm], header=False))
        story.append(_p("本收据为缴款书经缴款后由收费系统以国密 SM2 算法对缴款书及缴款信息加签形成，"
                        "可凭摘要与签名核验真伪。", "small"))
    else:
        story.append(_p("请持本缴款书通过省公共支付平台（网上银行、手机银行、微信、支付宝或银行柜台）缴款；"
                        "款项直接缴入国库或财政非税收入汇缴结算账户，任何部门不得收取现金。缴款后本缴款书即成为收据。"))
    story.append(Spacer(1, 4 * mm))
    story.append(Table([[_qr(lookup_url), _p("扫码查询缴款状态，或凭缴款书编号和查验码查询（查验码请勿告知他人）："
                                             f"\n{lookup_url}", "small")]],
                       colWidths=[32 * mm, 140 * mm]))
    doc.build(story)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# daily reconciliation
# ---------------------------------------------------------------------------------------------

KIND_LABELS = {"notice": "开具缴款书", "payment": "收到缴款", "mismatch": "对账异常", "refund": "退费"}


def daily_report(tenant: str, day: dt.date, rows: dict[str, list[dict]], open_entries: int, unit_name: str) -> dict:
    matched = [r for r in rows["payments"] if r["outcome"] == "matched"]
    report = {
        "tenant": tenant, "day": day.isoformat(), "unit_name": unit_name,
        "notices_issued": len(rows["notices"]), "notices_fen": sum(r["total_fen"] for r in rows["notices"]),
        "payments_received": len(rows["payments"]), "payments_fen": sum(r["amount_fen"] for r in rows["payments"]),
        "payments_matched": len(matched), "matched_fen": sum(r["amount_fen"] for r in matched),
        "mismatches": len(rows["mismatches"]), "mismatched_fen": sum(r["amount_fen"] for r in rows["mismatches"]),
        "refunds": len(rows["refunds"]), "refunded_fen": sum(r["amount_fen"] for r in rows["refunds"]),
        "settlements": len(rows["settlements"]), "open_entries": open_entries, "rows": [],
    }
    out = report["rows"]
    for r in rows["notices"]:
        out.append({"kind": "notice", "at": r["at"].isoformat(), "notice_number": r["notice_number"],
                    "case_number": r["case_number"], "payment_id": "", "amount_fen": r["total_fen"], "expected_fen": 0,
                    "status": NOTICE_STATUS_LABELS.get(r["status"], r["status"]), "note": f"开具人 {r['issued_by']}"})
    for r in rows["payments"]:
        out.append({"kind": "payment", "at": r["at"].isoformat(), "notice_number": r["notice_number"],
                    "case_number": r["case_number"] or "", "payment_id": r["payment_id"], "amount_fen": r["amount_fen"],
                    "expected_fen": 0, "status": "已匹配" if r["outcome"] == "matched" else "转入对账队列", "note": ""})
    for r in rows["mismatches"]:
        status = {"open": "待处理", "matched": "已匹配", "resolved": "已处理"}[r["status"]]
        out.append({"kind": "mismatch", "at": r["at"].isoformat(), "notice_number": r["notice_number"],
                    "case_number": r["case_number"], "payment_id": r["payment_id"], "amount_fen": r["amount_fen"],
                    "expected_fen": r["expected_fen"], "status": status,
                    "note": MATCH_LABELS[MatchKind(r["kind"])] + (f"；{r['resolution']}" if r["resolution"] else "")})
    for r in rows["refunds"]:
        out.append({"kind": "refund", "at": r["at"].isoformat(), "notice_number": r["notice_number"],
                    "case_number": r["case_number"], "payment_id": r["payment_id"], "amount_fen": r["amount_fen"],
                    "expected_fen": 0, "status": "已批准", "note": r["reason"]})
    out.sort(key=lambda x: x["at"])
    return report


SUMMARY = [("notices_issued", "notices_fen", "开具缴款书"), ("payments_received", "payments_fen", "收到缴款"),
           ("payments_matched", "matched_fen", "其中已匹配入账"),
           ("mismatches", "mismatched_fen", "对账异常（转入队列）"),
           ("refunds", "refunded_fen", "退费（已批准）")]
CSV_HEADER = ["类型", "时间", "缴款书编号", "办件编号", "支付流水号", "金额（元）", "应缴（元）", "状态", "说明"]


def report_csv(report: dict) -> bytes:
    """UTF-8 with BOM (opens correctly in Excel); amounts in yuan with two decimals."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["收费日对账", report["unit_name"] or report["tenant"], report["day"]])
    for count, amount, label in SUMMARY:
        w.writerow([label, report[count], yuan(report[amount]).replace(",", "")])
    w.writerow(["办结收费（已结清办件）", report["settlements"], ""])
    w.writerow(["对账队列未处理（累计）", report["open_entries"], ""])
    w.writerow([])
    w.writerow(CSV_HEADER)
    for r in report["rows"]:
        w.writerow([KIND_LABELS[r["kind"]], r["at"], r["notice_number"], r["case_number"], r["payment_id"],
                    yuan(r["amount_fen"]).replace(",", ""),
                    yuan(r["expected_fen"]).replace(",", "") if r["expected_fen"] else "", r["status"], r["note"]])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def report_pdf(report: dict) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title=f"收费日对账 {report['day']}", creator="sanji")
    story = [_p("收费日对账报表", "title"),
             _p(f"{report['unit_name'] or report['tenant']}（{report['tenant']}）　{report['day']}", "sub"),
             Spacer(1, 5 * mm)]
    summary = [["项目", "笔数", "金额（元）"]]
    summary += [[label, str(report[c]), yuan(report[a])] for c, a, label in SUMMARY]
    summary += [["办结收费（已结清办件）", str(report["settlements"]), ""],
                ["对账队列未处理（累计）", str(report["open_entries"]), ""]]
    story.append(_grid(summary, [80 * mm, 30 * mm, 50 * mm]))
    story.append(Spacer(1, 5 * mm))
    rows = [["类型", "时间", "缴款书编号 / 办件编号", "支付流水号", "金额（元）", "状态", "说明"]]
    for r in report["rows"]:
        rows.append([KIND_LABELS[r["kind"]], _cn_time(r["at"]), f"{r['notice_number']}\n{r['case_number']}",
                     r["payment_id"], yuan(r["amount_fen"]), r["status"], r["note"]])
    if len(rows) == 1:
        rows.append(["—", "", "当日无收费业务", "", "", "", ""])
    story.append(_grid(rows, [18 * mm, 26 * mm, 46 * mm, 30 * mm, 20 * mm, 20 * mm, 26 * mm]))
    doc.build(story)
    return buf.getvalue()
