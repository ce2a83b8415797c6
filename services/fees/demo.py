"""The demo county's fee catalogue (凉州区 620602) and the treasury accounts that receive fees.

`load_demo_fees(owner_url)` is what the demo loader and the tests call: it registers the treasury /
non-tax revenue accounts (reference data) and publishes the fee items below for 凉州区, skipping what
is already there. Fee codes are the ones the demo item catalogue (infra/demo/catalogue.json) names in
its items' `fees`. Legal bases are the real documents; amounts in 元 are the national standards where
there is one (不动产登记费, 居民身份证工本费) and illustrative local standards otherwise (marked 示例).
"""

from __future__ import annotations

import uuid

from sqlalchemy import text

from services.fees.catalogue import FeeItem, validate_definition
from services.fees.repository import FeesRepository
from shared.clock import Clock
from shared.db import Database
from shared.tenancy import DivisionCode

COUNTY = "620602"
ZRZY = "凉州区自然资源局"
ZJ = "凉州区住房和城乡建设局"
GA = "武威市公安局凉州分局"
BDC_BASIS = "《国家发展改革委 财政部关于不动产登记收费标准等有关问题的通知》（发改价格规〔2016〕2559号）"
SFZ_BASIS = "《国家发展改革委 财政部关于第二代居民身份证收费标准及有关问题的通知》（发改价格〔2003〕2322号）"

TREASURY_ACCOUNTS = [
    {"tenant_code": "620602", "payee_name": "武威市凉州区财政局（非税收入汇缴结算户）",
     "account_number": "27050101040012345", "bank_name": "中国农业银行武威凉州支行", "kind": "non_tax_revenue"},
    {"tenant_code": "513221", "payee_name": "汶川县财政局（非税收入汇缴结算户）",
     "account_number": "22880101040054321", "bank_name": "中国农业银行汶川县支行", "kind": "non_tax_revenue"},
]

FEE_ITEMS: list[dict] = [
    {"fee_code": "FEE-BDCDJ-ZZ", "name": "不动产登记费（住宅类）", "basis": BDC_BASIS, "collecting_unit": ZRZY,
     "standard": {"kind": "formula", "base_fen": 8000, "terms": [
         {"quantity": "extra_certificates", "label": "每增加一本证书加收证书工本费", "rate_fen": "1000", "unit": "本"}],
         "text": "住宅类不动产每件80元；核发一本不动产权属证书的不收取证书工本费，每增加一本加收证书工本费10元。"},
     "waiver_reasons": [
         {"code": "BZXZF", "label": "廉租住房、公共租赁住房、经济适用住房和棚户区改造住房登记", "full": True,
          "basis": BDC_BASIS},
         {"code": "GZYY", "label": "申请更正登记、异议登记", "full": True, "basis": BDC_BASIS}]},
    {"fee_code": "FEE-BDCDJ-FZZ", "name": "不动产登记费（非住宅类）", "basis": BDC_BASIS, "collecting_unit": ZRZY,
     "standard": {"kind": "formula", "base_fen": 55000, "terms": [
         {"quantity": "extra_certificates", "label": "每增加一本证书加收证书工本费", "rate_fen": "1000", "unit": "本"}],
         "text": "非住宅类不动产每件550元；每增加一本证书加收证书工本费10元。"},
     "waiver_reasons": [
         {"code": "XWQY", "label": "小微企业（含个体工商户）", "full": True,
          "basis": "《财政部 国家发展改革委关于不动产登记收费有关政策问题的通知》（财税〔2016〕79号）"}]},
    {"fee_code": "FEE-JMSFZ-GBF", "name": "居民身份证工本费（申领、换领）", "basis": SFZ_BASIS, "collecting_unit": GA,
     "standard": {"kind": "fixed", "amount_fen": 2000, "text": "申领、换领每证20元。"},
     "waiver_reasons": [
         {"code": "DIBAO", "label": "城市最低生活保障对象、农村五保供养对象", "full": True, "basis": SFZ_BASIS}]},
    {"fee_code": "FEE-JMSFZ-BL", "name": "居民身份证工本费（丢失补领、损坏换领）", "basis": SFZ_BASIS,
     "collecting_unit": GA, "standard": {"kind": "fixed", "amount_fen": 4000, "text": "丢失补领、损坏换领每证40元。"}},
    {"fee_code": "FEE-LSSFZ-GBF", "name": "临时居民身份证工本费", "basis": SFZ_BASIS, "collecting_unit": GA,
     "standard": {"kind": "fixed", "amount_fen": 1000, "text": "临时居民身份证每证10元。"}},
    {"fee_code": "FEE-CSJCSSPTF", "name": "城市基础设施配套费", "category": "政府性基金",
     "basis": "《财政部关于城市基础设施配套费性质的批复》（财综函〔2002〕3号）；武威市人民政府批准的征收标准",
     "collecting_unit": ZJ,
     "standard": {"kind": "range", "lower_fen": 4000, "upper_fen": 8000, "unit": "平方米",
                  "quantity": "building_area",
                  "text": "按建设项目规划许可建筑面积计征，每平方米40～80元（示例标准）；"
                          "政府投资和重点建设项目按下限征收。"},
     "waiver_reasons": [
         {"code": "BZXZF", "label": "保障性住房", "full": True,
          "basis": "《国务院关于解决城市低收入家庭住房困难的若干意见》（国发〔2007〕24号）"},
         {"code": "GYXM", "label": "学校、医院等公益性项目", "full": False, "max_percent": 50,
          "basis": "武威市城市基础设施配套费征收管理办法（示例）"}]},
    {"fee_code": "FEE-TDFKF", "name": "土地复垦费", "category": "行政事业性收费",
     "basis": "《土地复垦条例》第十八条；《甘肃省土地复垦费征收使用管理办法》（示例标准）",
     "collecting_unit": ZRZY,
     "standard": {"kind": "formula", "base_fen": 0, "terms": [
         {"quantity": "cultivated_area", "label": "损毁耕地", "rate_fen": "750", "unit": "平方米"},
         {"quantity": "other_area", "label": "损毁其他土地", "rate_fen": "337.5", "unit": "平方米"}],
         "text": "损毁耕地每平方米7.50元，损毁其他土地每平方米3.375元（示例标准），"
                 "按损毁面积计算，合计四舍五入到分。"}},
]


def load_demo_fees(owner_url: str, *, tenant: str = COUNTY, items: list[dict] | None = None) -> dict:
    """Register the treasury accounts and publish the demo fee catalogue (idempotent)."""
    db = Database.connect(owner_url, schema="fees", pool_size=1)
    created = skipped = 0
    try:
        with db.engine.begin() as conn:
            for acc in TREASURY_ACCOUNTS:
                conn.execute(text(
                    "INSERT INTO fees.treasury_accounts (tenant_code, payee_name, account_number, bank_name, kind)"
                    " VALUES (:tenant_code, :payee_name, :account_number, :bank_name, :kind)"
                    " ON CONFLICT (tenant_code) DO NOTHING"), acc)
        with db.unit_of_work(tenant=tenant) as uow:
            repo = FeesRepository(uow)
            for raw in items if items is not None else FEE_ITEMS:
                d = validate_definition(raw)
                if repo.fee_code_exists(tenant, d.fee_code):
                    skipped += 1
                    continue
                item = FeeItem.create(str(uuid.uuid4()), DivisionCode(tenant), d)
                item.publish()
                repo.add_fee_item(item, "demo-loader", Clock().now())
                created += 1
            uow.commit()
    finally:
        db.dispose()
    return {"fee_items_created": created, "fee_items_skipped": skipped, "treasury_accounts": len(TREASURY_ACCOUNTS)}
