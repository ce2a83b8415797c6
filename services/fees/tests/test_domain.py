"""The fee rules with no database: amounts against hand-computed figures, rounding, ranges, 收费从低,
waivers, identifiers that carry their tenant (a notice number's random digits, its verification code), the
canonical form the province signs, paid_at's window and the payee, what a refused callback keeps."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from decimal import Decimal

import pytest

from services.fees import assessment, catalogue, domain, money, payments, signing
from services.fees.assessment import LineInput
from services.fees.catalogue import FeeDefinition, FeeItem, FeeStatus
from services.fees.demo import FEE_ITEMS
from services.fees.documents import capital_amount, daily_report, report_csv
from services.fees.domain import CaseFees, CaseStatus
from services.fees.payments import MatchKind
from services.fees.signing import Signer, Verifier, generate_keypair, sm3_hex
from shared.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from shared.tenancy import DivisionCode

DEFS = {d["fee_code"]: catalogue.validate_definition(d) for d in FEE_ITEMS}


def assess(code: str, favoured: bool = False, standard_fen: int | None = None, **quantities) -> assessment.FeeLine:
    return assessment.assess_line(DEFS[code], "id", 1, LineInput(code, {k: str(v) for k, v in quantities.items()},
                                                             standard_fen), line_no=1, favoured=favoured,
                              field_prefix="lines[0]")


def test_round_half_up_to_the_fen():
    assert money.round_fen(Decimal("142.5")) == 143
    assert money.round_fen(Decimal("142.49")) == 142
    assert money.round_fen(Decimal("95996.25")) == 95996
    assert money.round_fen(Decimal("0.5")) == 1
    assert money.yuan(95996) == "959.96" and money.yuan(5_205_000) == "52,050.00"


def test_fixed_standard():
    line = assess("FEE-JMSFZ-GBF")
    assert (line.amount_fen, line.unit_price_fen) == (2000, 2000)
    with pytest.raises(InvalidArgument) as e:
        assess("FEE-JMSFZ-GBF", standard_fen=1500)
    assert e.value.field == "lines[0].standard_fen"


def test_range_per_square_metre_against_hand_computed_amounts():
    # 城市基础设施配套费 40～80 元/平方米: 60 元 × 1234.56 m² = 74,073.60 元
    line = assess("FEE-CSJCSSPTF", standard_fen=6000, building_area="1234.56")
    assert line.amount_fen == 7_407_360 and not line.lower_bound_applied
    # 40.01 元 × 0.5 m² = 20.005 元 → 20.01 元 (half up)
    assert assess("FEE-CSJCSSPTF", standard_fen=4001, building_area="0.5").amount_fen == 2001
    assert assess("FEE-CSJCSSPTF", standard_fen=4000, building_area="10").amount_fen == 40000   # bounds included
    assert assess("FEE-CSJCSSPTF", standard_fen=8000, building_area="10").amount_fen == 80000


def test_range_out_of_bounds_refused_naming_the_field():
    for price in (3999, 8001):
        with pytest.raises(InvalidArgument) as e:
            assess("FEE-CSJCSSPTF", standard_fen=price, building_area="100")
        assert e.value.field == "lines[0].standard_fen" and "超出收费标准范围" in e.value.message
    with pytest.raises(InvalidArgument) as e:
        assess("FEE-CSJCSSPTF", building_area="100")
    assert e.value.field == "lines[0].standard_fen"
    with pytest.raises(InvalidArgument) as e:
        assess("FEE-CSJCSSPTF", standard_fen=-5000, building_area="100")
    assert e.value.field == "lines[0].standard_fen" and "负数" in e.value.message


def test_government_invested_and_key_projects_pay_the_lower_bound():
    # 收费从低: 40 元 × 1234.56 m² = 49,382.40 元, without anyone choosing it
    line = assess("FEE-CSJCSSPTF", favoured=True, building_area="1234.56")
    assert line.amount_fen == 4_938_240 and line.lower_bound_applied and line.unit_price_fen == 4000
    assert line.calculation.startswith("收费从低")
    assert assess("FEE-CSJCSSPTF", favoured=True, standard_fen=4000, building_area="1").amount_fen == 4000
    with pytest.raises(InvalidArgument) as e:
        assess("FEE-CSJCSSPTF", favoured=True, standard_fen=6000, building_area="1")
    assert e.value.field == "lines[0].standard_fen" and "收费从低" in e.value.message
    # a range line assessed before the decision said "government-invested" is re-assessed at the lower bound
    again = assessment.favour_line(assess("FEE-CSJCSSPTF", standard_fen=7000, building_area="100"))
    assert again.amount_fen == 400_000 and again.lower_bound_applied


def test_formula_against_hand_computed_amounts():
    # 土地复垦费: 123.45 m² × 7.50 元 + 10.1 m² × 3.375 元 = 925.875 + 34.0875 = 959.9625 元 → 959.96 元
    line = assess("FEE-TDFKF", cultivated_area="123.45", other_area="10.1")
    assert line.amount_fen == 95_996
    assert "四舍五入到分" in line.calculation
    # 0.1 × 750 + 0.2 × 337.5 = 142.5 分 → 143 分
    assert assess("FEE-TDFKF", cultivated_area="0.1", other_area="0.2").amount_fen == 143
    # 不动产登记费（非住宅）: 550 元 + 2 本 × 10 元 = 570 元
    assert assess("FEE-BDCDJ-FZZ", extra_certificates=2).amount_fen == 57_000
    assert assess("FEE-BDCDJ-ZZ", extra_certificates=0).amount_fen == 8_000


def test_quantities_are_checked():
    with pytest.raises(InvalidArgument) as e:
        assess("FEE-TDFKF", cultivated_area="10")
    assert e.value.field == "lines[0].quantities.other_area"
    with pytest.raises(InvalidArgument) as e:
        assess("FEE-TDFKF", cultivated_area="-1", other_area="0")
    assert e.value.field == "lines[0].quantities.cultivated_area" and "负数" in e.value.message
    with pytest.raises(InvalidArgument) as e:
        assess("FEE-TDFKF", cultivated_area="abc", other_area="0")
    assert e.value.field == "lines[0].quantities.cultivated_area"
    with pytest.raises(InvalidArgument) as e:
        assess("FEE-JMSFZ-GBF", copies="2")
    assert e.value.field == "lines[0].quantities.copies"
    with pytest.raises(InvalidArgument) as e:
        assess("FEE-TDFKF", cultivated_area="1.00001", other_area="0")
    assert "4 位小数" in e.value.message


def test_definitions_are_validated_naming_the_field():
    base = {"fee_code": "FEE-X", "name": "测试费", "basis": "某文件", "collecting_unit": "凉州区某局",
            "standard": {"kind": "range", "lower_fen": 500, "upper_fen": 100}}
    with pytest.raises(InvalidArgument) as e:
        catalogue.validate_definition(base)
    assert e.value.field == "definition.standard.upper_fen"
    with pytest.raises(InvalidArgument) as e:
        catalogue.validate_definition({**base, "standard": {"kind": "fixed", "amount_fen": -1}})
    assert e.value.field == "definition.standard.amount_fen"
    with pytest.raises(InvalidArgument) as e:
        catalogue.validate_definition({**base, "basis": " "})
    assert e.value.field == "definition.basis"
    with pytest.raises(InvalidArgument) as e:
        catalogue.validate_definition({**base, "standard": {"kind": "formula", "terms": []}})
    assert e.value.field == "definition.standard.terms"
    with pytest.raises(InvalidArgument) as e:
        catalogue.validate_definition({**base, "standard": {"kind": "percent"}})
    assert e.value.field == "definition.standard.kind"
    assert FeeDefinition.from_dict(DEFS["FEE-TDFKF"].to_dict()) == DEFS["FEE-TDFKF"]


def test_fee_item_versions_draft_published_adjusted_cancelled():
    """The one lifecycle of shared.versioned, told in the fee catalogue's words."""
    item = FeeItem.create("id-1", DivisionCode("620602"), DEFS["FEE-JMSFZ-GBF"])
    with pytest.raises(InvalidArgument) as e:
        item.update_draft(DEFS["FEE-JMSFZ-BL"])
    assert (e.value.field, e.value.message) == ("definition.fee_code", "收费项目编码不可修改；如需变更请取消后新建")
    with pytest.raises(FailedPrecondition) as e:
        item.adjust(DEFS["FEE-JMSFZ-GBF"], "涨价")
    assert e.value.message == "只有已发布的收费项目可以调整（当前：草稿）"
    assert item.publish().status == FeeStatus.PUBLISHED
    with pytest.raises(FailedPrecondition) as e:
        item.publish()
    assert e.value.message == "收费项目当前状态为“已发布”，不能发布"
    with pytest.raises(FailedPrecondition) as e:
        item.update_draft(DEFS["FEE-JMSFZ-GBF"])
    assert e.value.message == "只有草稿可以直接修改；已发布的收费项目请走“调整”流程并说明理由"
    with pytest.raises(InvalidArgument) as e:
        item.adjust(DEFS["FEE-JMSFZ-GBF"], " ")
    assert (e.value.field, e.value.message) == ("reason", "调整理由不能为空")
    with pytest.raises(InvalidArgument) as e:
        item.adjust(DEFS["FEE-JMSFZ-GBF"], "理" * 2001)
    assert e.value.message == "调整理由过长（最多 2000 字）"
    previous, new = item.adjust(DEFS["FEE-JMSFZ-GBF"], " 标准调整 ")
    assert (previous.status, new.version, new.status, new.change_reason) == \
        (FeeStatus.SUPERSEDED, 2, FeeStatus.PUBLISHED, "标准调整")
    assert item.current.definition is DEFS["FEE-JMSFZ-GBF"] and item.stored == 0
    with pytest.raises(InvalidArgument) as e:
        item.cancel("")
    assert (e.value.field, e.value.message) == ("reason", "取消理由不能为空")
    version, withdrawn = item.cancel("停征")
    assert (version.version, version.status, version.change_reason, withdrawn) == \
        (2, FeeStatus.CANCELLED, "停征", True)
    with pytest.raises(FailedPrecondition) as e:
        item.cancel("again")
    assert e.value.message == "收费项目当前状态为“已取消”，不能取消"
    draft = FeeItem.create("id-2", DivisionCode("620602"), DEFS["FEE-TDFKF"])
    assert draft.cancel("录错")[1] is False        # a draft withdrawn from no one


def test_waivers_need_a_listed_reason_and_respect_the_cap():
    line = assess("FEE-CSJCSSPTF", standard_fen=6000, building_area="100")   # 6,000 元
    with pytest.raises(InvalidArgument) as e:
        assessment.waive(line, "FRIENDS", 0, by="head", note="")
    assert e.value.field == "reason_code" and "减免目录" in e.value.message
    reduced, reason = assessment.waive(line, "GYXM", 300_000, by="head", note="学校")
    assert (reduced.waived_fen, reduced.due_fen, reduced.status, reason.full) == (300_000, 300_000, "unpaid", False)
    with pytest.raises(InvalidArgument) as e:
        assessment.waive(line, "GYXM", 300_001, by="head", note="")
    assert e.value.field == "amount_fen" and "50%" in e.value.message
    waived, _ = assessment.waive(line, "BZXZF", 0, by="head", note="保障房")
    assert (waived.waived_fen, waived.due_fen, waived.status) == (600_000, 0, "waived")


def test_case_lifecycle_rules():
    case = CaseFees(COUNTY := "620602", "62060200000020260101000001", CaseStatus.AWAITING)
    with pytest.raises(FailedPrecondition):
        case.check_issuable()
    case.assess([assess("FEE-JMSFZ-GBF")], by="c", at=dt.datetime.now(dt.UTC))
    assert case.check_issuable() == 2000
    case.status = CaseStatus.NOTICED
    with pytest.raises(FailedPrecondition):
        case.check_assessable()
    case.mark_paid(2000, dt.datetime.now(dt.UTC))
    assert case.status == CaseStatus.SETTLED and case.paid_fen == 2000 and case.tenant == COUNTY


def test_case_and_notice_numbers_carry_their_tenant():
    county, township = DivisionCode("620602"), DivisionCode("620602001")
    number = "62060200000020260918000017"
    assert domain.check_case_number(number, county) == number
    with pytest.raises(PermissionDenied):
        domain.check_case_number(number, township)
    with pytest.raises(InvalidArgument) as e:
        domain.check_case_number("LZ-2026-1", county)
    assert e.value.field == "case_number"
    assert domain.case_tenant("62060200100020260918000001") == "620602001"
    n = domain.format_notice_number("620602001", 2026, 42)
    assert len(n) == 25 and n.startswith("620602001000202600000042")
    assert domain.notice_tenant(n) == "620602001"
    typo = n[:-2] + str((int(n[-2]) + 1) % 10) + n[-1]
    assert domain.notice_tenant(typo) is None                 # the check digit catches a typo
    assert domain.notice_tenant("620602000000202600000001" + domain.luhn_digit("620602000000202600000001")) == \
        "620602"


def test_a_notice_number_has_random_digits_and_reads_as_25_digits():
    numbers = {domain.draw_notice_number("620602", 2026) for _ in range(200)}
    assert len(numbers) == 200                                       # not a sequence: no two draws alike
    assert all(len(n) == 25 and n.isdigit() and n.startswith("6206020000002026") for n in numbers)
    assert {domain.notice_tenant(n) for n in numbers} == {"620602"}
    middles = sorted(int(n[16:24]) for n in numbers)
    assert middles[-1] - middles[0] > 10 ** 6                         # spread over the 8 digits, not counting up
    # a seeded draw gives the number a test can know in advance (the service draws with `secrets`)
    twin = [domain.draw_notice_number("620602001", 2026, random.Random(5).randrange)
            for _ in range(2)]
    assert twin[0] == twin[1] and domain.notice_tenant(twin[0]) == "620602001"
    with pytest.raises(ValueError):
        domain.format_notice_number("620602", 2026, 10 ** 8)
    assert domain.check_serial(1, 2026) == 1
    with pytest.raises(FailedPrecondition):
        domain.check_serial(domain.NOTICE_SERIAL_MAX + 1, 2026)


def test_verification_codes_are_random_readable_and_compared_whole():
    codes = {domain.new_verification_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == 8 and set(c) <= set(domain.CODE_ALPHABET) for c in codes)
    assert not set("01OIL") & set(domain.CODE_ALPHABET)
    assert len(domain.new_verification_code(12)) == 12
    with pytest.raises(ValueError):
        domain.new_verification_code(6)                              # a code too short to be a secret
    assert domain.check_verification_code(" pwws-wvd7 ") == "PWWSWVD7"
    for bad in ("", "PWWS", "PWWSWVD0", "PWWSWVD7" * 3, "PWWS WVD7'--"):
        with pytest.raises(InvalidArgument) as e:
            domain.check_verification_code(bad)
        assert e.value.field == "code"
    assert domain.same_code("PWWSWVD7", "PWWSWVD7")
    assert not domain.same_code("PWWSWVD7", "PWWSWVD8") and not domain.same_code("PWWSWVD7", "PWWSWVD")
    assert not domain.same_code(None, "PWWSWVD7") and not domain.same_code("", "")   # a notice without a code


def test_matching_accepts_only_an_exact_payment():
    assert payments.match(None, 0, 100) == MatchKind.UNKNOWN_NOTICE
    assert payments.match("issued", 100, 100) == MatchKind.MATCHED
    assert payments.match("issued", 100, 100, "27050101040012345", "27050101040012345") == MatchKind.MATCHED
    assert payments.match("issued", 100, 100, "27050101040012345", "22880101040054321") == \
        MatchKind.ACCOUNT_MISMATCH
    assert payments.match("issued", 100, 99) == MatchKind.AMOUNT_MISMATCH
    assert payments.match("paid", 100, 100) == MatchKind.ALREADY_PAID
    assert payments.match("void", 100, 100) == MatchKind.NOTICE_VOID


def test_canonical_form_and_sm2_signatures():
    fields = {"b": "2", "a": "中文", "empty": "", "signature": "x"}
    known = "payment_id=&notice_number=&amount_fen=&paid_at=&payee_account=&payer_name=&channel="
    assert payments.canonical_form(fields) == f"{known}&a=%E4%B8%AD%E6%96%87&b=2&empty=".encode()
    # a value holding the separators is escaped: it cannot pass for two fields (issue 15, item 7)
    assert payments.canonical_form({"payer_name": "A&channel=x"}) != payments.canonical_form(
        {"payer_name": "A", "channel": "x"})
    assert payments.canonical_form({"payer_name": "A&channel=x"}).endswith(b"payer_name=A%26channel%3Dx&channel=")
    private, public = generate_keypair()
    sig = Signer(private, public).sign(payments.canonical_form(fields))
    assert Verifier(public).verify(sig, payments.canonical_form(fields))
    assert not Verifier(public).verify(sig, payments.canonical_form({**fields, "b": "3"}))
    assert not Verifier(public).verify("zz" * 64, b"")
    assert not Verifier(generate_keypair()[1]).verify(sig, payments.canonical_form(fields))
    assert len(sm3_hex(b"abc")) == 64
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"  # GB/T 32905 A.1


def test_a_signature_made_by_another_sm2_implementation_verifies():
    """Known answer: the province's DEV key signed this with gmssl's pure-Python sign_with_sm3."""
    msg = b"notice_number=6206022026N000001&amount_fen=2000"
    sig = ("3a66362c3ddb26efb88e677ce497ffe99e1347e8d7dbd2c64238e2e8d9b53acb"
           "995bbf918dc3813da70c47dcd0cf38bb81cc0d90e836f4ad0508dc392e253bdd")
    province = Verifier(signing.DEV_PROVINCE_PUBLIC_KEY)
    assert province.verify(sig, msg) and province.verify(sig.upper(), msg)
    assert not province.verify(sig, msg + b"0")
    assert not province.verify("0" * 128, msg)                       # r = s = 0
    with pytest.raises(ValueError):
        Signer(signing.DEV_RECEIPT_PRIVATE_KEY, signing.DEV_PROVINCE_PUBLIC_KEY)   # not its public key
    with pytest.raises(ValueError):
        Verifier("1" * 128)                                           # not a point of the curve


def test_parse_callback_names_the_bad_field():
    good = {"payment_id": "GSPAY000001", "notice_number": "1" * 25, "amount_fen": "100",
            "paid_at": "2026-09-18T10:00:00+08:00", "payee_account": "27050101040012345"}
    assert payments.parse_callback(good).amount_fen == 100
    for name, value in [("amount_fen", "-5"), ("amount_fen", "1.5"), ("paid_at", "yesterday"),
                        ("paid_at", "2026-09-18T10:00:00"), ("payment_id", "x"), ("payee_account", "")]:
        with pytest.raises(InvalidArgument) as e:
            payments.parse_callback({**good, name: value})
        assert e.value.field == name


def test_capital_amounts_and_csv():
    assert capital_amount(8000) == "人民币捌拾元整"
    assert capital_amount(5_205_000) == "人民币伍万贰仟零伍拾元整"
    assert capital_amount(105) == "人民币壹元零伍分"
    assert capital_amount(1_000_100) == "人民币壹万零壹元整"
    report = daily_report("620602", dt.date(2026, 9, 18), {"notices": [], "payments": [], "mismatches": [],
                                                             "refunds": [], "settlements": []}, 0, "凉州区财政局")
    assert report_csv(report).startswith("\ufeff收费日对账".encode())


def test_paid_at_lies_between_the_notice_and_now_give_or_take_the_clock_skew():
    now = dt.datetime(2026, 9, 18, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    skew = dt.timedelta(minutes=5)
    issued = now - dt.timedelta(hours=2)
    for ok in (now, now + skew, issued, issued - skew, now.astimezone(dt.UTC)):
        payments.check_paid_at(ok, now, skew, issued_at=issued)
    for bad in (now + skew + dt.timedelta(seconds=1), now + dt.timedelta(days=365),
                issued - skew - dt.timedelta(seconds=1), issued - dt.timedelta(days=30)):
        with pytest.raises(InvalidArgument) as e:
            payments.check_paid_at(bad, now, skew, issued_at=issued)
        assert e.value.field == "paid_at"
    payments.check_paid_at(issued - dt.timedelta(days=30), now, skew)      # no notice (yet): only the future
    payments.check_payee("27050101040012345", "27050101040012345")
    with pytest.raises(FailedPrecondition):
        payments.check_payee("27050101040012345", "22880101040054321")


def test_a_refused_callback_keeps_a_bounded_head_and_the_whole_bodys_hash():
    small = {"payment_id": "GSPAY000001", "notice_number": "1" * 25, "payer_name": "张三"}
    r = payments.rejection_record("signature does not verify", small, "ab" * 64, 2048)
    assert json.loads(r["body"]) == small and r["body_bytes"] == len(r["body"].encode())
    big = {f"f{i:02d}": "中" * 1000 for i in range(40)}                   # 40 fields of 3,000 bytes each
    r = payments.rejection_record("x" * 5000, {**big, "payment_id": "P" * 900}, "s" * 5000, 2048)
    whole = json.dumps({**big, "payment_id": "P" * 900}, ensure_ascii=False, sort_keys=True).encode()
    assert len(r["body"].encode()) <= 2048 and whole.startswith(r["body"].encode())   # cut at a character
    assert (r["body_bytes"], r["body_sha256"]) == (len(whole), hashlib.sha256(whole).hexdigest())
    assert (len(r["reason"]), len(r["payment_id"]), len(r["signature"])) == (500, 64, 256)
    assert sum(len(str(v).encode()) for v in r.values()) < 4096
