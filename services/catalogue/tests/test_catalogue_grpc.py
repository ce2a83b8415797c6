"""The catalogue through its gRPC API: real PostgreSQL, real tokens, the platform interceptor chain."""

from __future__ import annotations

import itertools
import json
import random

import grpc
import pytest
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as pb
from sqlalchemy import text

from shared.db import relay_transaction
from shared.grpc.client import bearer
from shared.grpc.server import FIELD_KEY
from tests.support import Caller

_seq = itertools.count(1)
RUN = random.randint(1000, 9999)


def code() -> str:
    return f"T{RUN}{next(_seq):05d}"


def elements(**over) -> pb.ItemElements:
    d = {
        "name": "农村村民宅基地审批", "basic_code": code(), "item_type": "01", "exercise_level": "5", "case_kind": "2",
        "department": "凉州区农业农村局", "legal_basis": "《中华人民共和国土地管理法》第六十二条",
        "acceptance_conditions": "本集体经济组织成员，符合一户一宅条件", "targets": ["natural_person"],
        "statutory_limit_days": 20, "promised_limit_days": 10, "keywords": ["宅基地", "建房"],
        "scenarios": [{"code": "S1", "name": "新建住房", "materials": [
            {"code": "M1", "name": "农村宅基地和建房（规划许可）申请表", "core": True, "copies": 1},
            {"code": "M2", "name": "户口簿复印件", "waivable": True, "makeup_days": 5, "copies": 1}]}],
    }
    d.update(over)
    return json_format.ParseDict(d, pb.ItemElements())


def err(fn, *args, **kw) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as e:
        fn(*args, **kw)
    return e.value


def field_of(e: grpc.RpcError) -> str | None:
    return dict(e.trailing_metadata() or ()).get(FIELD_KEY)


@pytest.fixture
def as_(stub, tokens):
    """as_("county.admin").CreateItem(request) — call the stub with a user's token."""
    return lambda username: Caller(stub, tokens[username], timeout=10)


def published(as_, user="county.admin", **over) -> pb.Item:
    item = as_(user).CreateItem(pb.CreateItemRequest(elements=elements(**over)))
    return as_(user).PublishItem(pb.PublishItemRequest(item_id=item.id))


def outbox(db, item_id: str) -> list[tuple[str, dict, str]]:
    with relay_transaction(db.engine) as c:
        rows = c.execute(text("SELECT routing_key, body, tenant FROM catalogue.outbox WHERE correlation_id = :i"
                              " ORDER BY seq"), {"i": item_id}).all()
    return [(r[0], json.loads(r[1]), r[2]) for r in rows]


# ------------------------------------------------------------------------------------------------
def test_lifecycle_publishes_each_change_as_an_event(as_, catalogue_db):
    admin = as_("county.admin")
    item = admin.CreateItem(pb.CreateItemRequest(elements=elements()))
    assert (item.status, item.version, item.tenant) == (pb.ITEM_STATUS_DRAFT, 1, "620602")
    item = admin.UpdateDraft(pb.UpdateDraftRequest(item_id=item.id, elements=elements(
        basic_code=item.elements.basic_code, promised_limit_days=8)))
    assert item.elements.promised_limit_days == 8
    item = admin.PublishItem(pb.PublishItemRequest(item_id=item.id))
    assert item.status == pb.ITEM_STATUS_PUBLISHED and item.published_at
    adjusted = admin.AdjustItem(pb.AdjustItemRequest(item_id=item.id, reason="承诺时限压缩一半", elements=elements(
        basic_code=item.elements.basic_code, promised_limit_days=6)))
    assert (adjusted.version, adjusted.elements.promised_limit_days) == (2, 6)
    versions = admin.ListItemVersions(pb.ListItemVersionsRequest(item_id=item.id)).versions
    assert [(v.version, v.status) for v in versions] == [(1, pb.ITEM_STATUS_SUPERSEDED), (2, pb.ITEM_STATUS_PUBLISHED)]
    # a case accepted under version 1 can still read version 1
    assert admin.GetItem(pb.GetItemRequest(item_id=item.id, version=1)).elements.promised_limit_days == 8
    delegated = admin.DelegateItem(pb.DelegateItemRequest(item_id=item.id, target_tenants=["620602001"],
                                                          kind=pb.LISTING_KIND_DELEGATED, reason="下放街道"))
    assert list(delegated.listed_for) == ["620602001"]
    cancelled = admin.CancelItem(pb.CancelItemRequest(item_id=item.id, reason="法律依据废止"))
    assert cancelled.status == pb.ITEM_STATUS_CANCELLED
    events = outbox(catalogue_db, item.id)
    assert [e[0] for e in events] == ["item_published", "item_adjusted", "item_delegated", "item_cancelled"]
    assert all(e[2] == "620602" for e in events)
    assert events[1][1]["version"] == 2 and events[1][1]["previous_version"] == 1
    assert events[2][1]["target_tenants"] == ["620602001"]


def test_lists_per_tenant_county_township_village(as_):
    delegated = published(as_, name="个体工商户设立登记", keywords=["个体户"])
    as_("county.admin").DelegateItem(pb.DelegateItemRequest(item_id=delegated.id, target_tenants=["620602001"],
                                                            kind=pb.LISTING_KIND_DELEGATED))
    proxied = published(as_, name="高龄津贴申领", item_type="05", keywords=["高龄", "津贴"])
    as_("county.admin").DelegateItem(pb.DelegateItemRequest(item_id=proxied.id, target_tenants=["620602001001"],
                                                            kind=pb.LISTING_KIND_PROXY))
    county_only = published(as_, name="建设工程规划许可证核发", exercise_level="4")

    def ids(user):
        return {i.id: i.listing for i in as_(user).ListMyItems(pb.ListMyItemsRequest(limit=200)).items}

    county = ids("county.admin")
    assert {delegated.id, proxied.id, county_only.id} <= county.keys()
    assert county[delegated.id] == pb.LISTING_KIND_OWN
    township = ids("dongdajie.admin")
    assert township.get(delegated.id) == pb.LISTING_KIND_DELEGATED
    assert proxied.id not in township and county_only.id not in township
    village = ids("nanyuan.agent")
    assert village.get(proxied.id) == pb.LISTING_KIND_PROXY
    assert delegated.id not in village
    assert proxied.id not in ids("dazhong.agent")       # a sibling village's list is its own
    assert delegated.id not in ids("xidajie.admin")      # a sibling township's too


def test_chinese_search_finds_homestead_by_keyword(as_, stub):
    item = published(as_)
    found = as_("county.admin").SearchItems(pb.SearchItemsRequest(query="宅基地")).items
    assert item.id in {i.id for i in found}
    public = stub.SearchPublicItems(pb.SearchPublicItemsRequest(region="620602", query="宅基地"), timeout=10)
    assert item.id in {i.id for i in public.items}
    assert all("宅基" in i.elements.name or "宅基地" in i.elements.keywords for i in public.items)
    none = stub.SearchPublicItems(pb.SearchPublicItemsRequest(region="513221", query="宅基地"), timeout=10)
    assert item.id not in {i.id for i in none.items}


def test_cancelled_item_leaves_every_list(as_):
    item = published(as_, name="临时救助", item_type="05")
    as_("county.admin").DelegateItem(pb.DelegateItemRequest(item_id=item.id, target_tenants=["620602001001"],
                                                            kind=pb.LISTING_KIND_PROXY))
    as_("county.admin").CancelItem(pb.CancelItemRequest(item_id=item.id, reason="并入其他事项"))
    for user in ("county.admin", "nanyuan.agent"):
        assert item.id not in {i.id for i in as_(user).ListMyItems(pb.ListMyItemsRequest(limit=200)).items}


def test_resolving_at_a_named_unit_is_public_and_answers_as_that_units_window(as_, stub):
    """ResolveHandlingUnitAt (the docking gateway's online applications, 委托收件): no token; the answer a window of
    the named unit would get — its own or delegated item there, a 代收 listing decided above, no listing refused."""
    delegated = published(as_, name="个体工商户设立登记（网上）")
    as_("county.admin").DelegateItem(pb.DelegateItemRequest(item_id=delegated.id, target_tenants=["620602001"],
                                                            kind=pb.LISTING_KIND_DELEGATED))
    collected = published(as_, name="建设工程规划许可证核发（代收）", exercise_level="4")
    as_("county.admin").DelegateItem(pb.DelegateItemRequest(item_id=collected.id, target_tenants=["620602002"],
                                                            kind=pb.LISTING_KIND_COLLECT))

    def at(item, unit):
        return stub.ResolveHandlingUnitAt(pb.ResolveHandlingUnitAtRequest(item_id=item.id, unit=unit), timeout=10)

    r = at(delegated, "620602001")
    assert (r.handling_tenant, r.collect, r.proxy, r.item.id) == ("620602001", False, False, delegated.id)
    assert at(delegated, "620602").handling_tenant == "620602"
    r = at(collected, "620602002")
    assert (r.handling_tenant, r.collect) == ("620602", True)
    e = err(at, delegated, "620602002")                  # a sibling township holds no listing of it
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and "清单" in e.details()
    e = err(at, delegated, "62060X")
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "unit"
    draft = as_("county.admin").CreateItem(pb.CreateItemRequest(elements=elements()))
    assert err(at, draft, "620602").code() == grpc.StatusCode.NOT_FOUND    # a draft is no one's to apply for
    e = err(stub.ResolveHandlingUnitAt, pb.ResolveHandlingUnitAtRequest(item_id="x", unit="620602"), timeout=10)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "item_id"


# -- walls ---------------------------------------------------------------------------------------
def test_sibling_township_can_neither_read_nor_change_a_township_item(as_):
    draft = as_("dongdajie.admin").CreateItem(pb.CreateItemRequest(elements=elements(exercise_level="5")))
    other = as_("xidajie.admin")
    assert err(other.GetItem, pb.GetItemRequest(item_id=draft.id)).code() == grpc.StatusCode.NOT_FOUND
    for call in (lambda: other.PublishItem(pb.PublishItemRequest(item_id=draft.id)),
                 lambda: other.CancelItem(pb.CancelItemRequest(item_id=draft.id, reason="x")),
                 lambda: other.UpdateDraft(pb.UpdateDraftRequest(item_id=draft.id, elements=elements()))):
        assert err(call).code() == grpc.StatusCode.NOT_FOUND
    pub = as_("dongdajie.admin").PublishItem(pb.PublishItemRequest(item_id=draft.id))
    assert err(other.GetItem, pb.GetItemRequest(item_id=pub.id)).code() == grpc.StatusCode.NOT_FOUND
    assert err(other.AdjustItem, pb.AdjustItemRequest(item_id=pub.id, reason="x", elements=elements(
        basic_code=pub.elements.basic_code))).code() == grpc.StatusCode.NOT_FOUND
    # another county sees nothing of it
    assert err(as_("wenchuan.admin").GetItem, pb.GetItemRequest(item_id=pub.id)).code() == grpc.StatusCode.NOT_FOUND
    # while the township's own village may read its published item
    assert as_("nanyuan.agent").GetItem(pb.GetItemRequest(item_id=pub.id)).id == pub.id


def test_descendants_read_but_never_change_their_county_items(as_):
    item = published(as_)
    assert as_("dongdajie.admin").GetItem(pb.GetItemRequest(item_id=item.id)).id == item.id
    e = err(as_("dongdajie.admin").CancelItem, pb.CancelItemRequest(item_id=item.id, reason="越权"))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "本单位" in e.details()
    draft = as_("county.admin").CreateItem(pb.CreateItemRequest(elements=elements()))
    assert err(as_("dongdajie.admin").GetItem, pb.GetItemRequest(item_id=draft.id)).code() == grpc.StatusCode.NOT_FOUND
    assert err(as_("wenchuan.admin").GetItem, pb.GetItemRequest(item_id=item.id)).code() == grpc.StatusCode.NOT_FOUND


def test_supervisor_reads_the_subtree_but_cannot_write(as_):
    draft = as_("dongdajie.admin").CreateItem(pb.CreateItemRequest(elements=elements()))
    assert as_("county.supervisor").GetItem(pb.GetItemRequest(item_id=draft.id)).id == draft.id
    e = err(as_("county.supervisor").PublishItem, pb.PublishItemRequest(item_id=draft.id))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED


def test_roles_are_checked(as_):
    e = err(as_("county.clerk").CreateItem, pb.CreateItemRequest(elements=elements()))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED and "单位管理员" in e.details()


def test_rls_alone_hides_other_tenants_rows(catalogue_db, as_):
    """The database wall on its own: raw SQL with no tenant filter, as the application role."""
    draft = as_("dongdajie.admin").CreateItem(pb.CreateItemRequest(elements=elements()))
    with catalogue_db.unit_of_work(tenant="620602002") as uow:       # the sibling township
        assert uow.session.execute(text("SELECT count(*) FROM catalogue.items WHERE id = :i"),
                                   {"i": draft.id}).scalar() == 0
        assert uow.session.execute(text("SELECT count(*) FROM catalogue.item_versions WHERE tenant_code = "
                                        "'620602001' AND status = 'draft'")).scalar() == 0
        assert uow.session.execute(text("UPDATE catalogue.items SET status = 'cancelled' WHERE id = :i"),
                                   {"i": draft.id}).rowcount == 0
        with pytest.raises(Exception, match="row-level security"):
            uow.session.execute(text("INSERT INTO catalogue.items (id, tenant_code, basic_code, current_version,"
                                     " status) VALUES (gen_random_uuid(), '620602001', 'X1', 1, 'draft')"))
    with catalogue_db.unit_of_work() as uow:                          # public: no draft at all
        assert uow.session.execute(text("SELECT count(*) FROM catalogue.items WHERE status = 'draft'")).scalar() == 0
    with catalogue_db.engine.connect() as c:                          # no tenant bound: nothing
        assert c.execute(text("SELECT count(*) FROM catalogue.items")).scalar() == 0
    with catalogue_db.unit_of_work(tenant="620602001") as uow:       # its own tenant sees it
        assert uow.session.execute(text("SELECT count(*) FROM catalogue.items WHERE id = :i"),
                                   {"i": draft.id}).scalar() == 1


def test_app_role_owns_nothing_and_cannot_bypass_rls(catalogue_db):
    with catalogue_db.engine.connect() as c:
        owners = c.execute(text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'catalogue'")).scalars()
        assert set(owners) == {"sanji_owner"}
        assert c.execute(text("SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user")).scalar() \
            is False
        forced = c.execute(text("SELECT relname FROM pg_class WHERE relnamespace = 'catalogue'::regnamespace"
                                " AND relrowsecurity AND relforcerowsecurity")).scalars()
        assert {"items", "item_versions", "item_listings"} <= set(forced)


def test_altered_tenant_claim_fails_verification(stub, tokens):
    import base64

    token = tokens["dongdajie.admin"]
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["tenant"] = "620602002"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    e = err(stub.ListMyItems, pb.ListMyItemsRequest(), metadata=bearer(f"{head}.{forged}.{sig}"), timeout=10)
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err(stub.ListMyItems, pb.ListMyItemsRequest(), timeout=10).code() == grpc.StatusCode.UNAUTHENTICATED
    e = err(stub.ListMyItems, pb.ListMyItemsRequest(), metadata=bearer("not-a-token"), timeout=10)
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("over, field", [
    ({"name": ""}, "elements.name"),
    ({"basic_code": "X" * 40}, "elements.basic_code"),
    ({"item_type": "77"}, "elements.item_type"),
    ({"statutory_limit_days": -5}, "elements.statutory_limit_days"),
    ({"legal_basis": ""}, "elements.legal_basis"),
    ({"scenarios": [{"code": "S1", "name": "新建", "materials": [
        {"code": "M1", "name": "户口簿", "waivable": True, "makeup_days": 30}]}]},
     "elements.scenarios[0].materials[0].makeup_days"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(as_, catalogue_db, over, field):
    el = elements(**over)
    e = err(as_("county.admin").CreateItem, pb.CreateItemRequest(elements=el))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_of(e) == field
    assert not e.details().isascii()  # a sentence in Chinese for the person at the window
    with catalogue_db.unit_of_work(tenant="620602") as uow:
        assert uow.session.execute(text("SELECT count(*) FROM catalogue.items WHERE basic_code = :c"),
                                   {"c": el.basic_code}).scalar() == 0


def test_bad_input_on_the_other_entrypoints(as_, stub):
    admin = as_("county.admin")
    item = published(as_)
    cases = [
        (admin.GetItem, pb.GetItemRequest(item_id="nope"), "item_id"),
        (admin.PublishItem, pb.PublishItemRequest(item_id=""), "item_id"),
        (admin.AdjustItem, pb.AdjustItemRequest(item_id=item.id, reason="", elements=elements(
            basic_code=item.elements.basic_code)), "reason"),
        (admin.CancelItem, pb.CancelItemRequest(item_id=item.id, reason=" "), "reason"),
        (admin.DelegateItem, pb.DelegateItemRequest(item_id=item.id, target_tenants=["62060"],
                                                    kind=pb.LISTING_KIND_DELEGATED), "target_tenants[0]"),
        (admin.DelegateItem, pb.DelegateItemRequest(item_id=item.id, target_tenants=["620602001"]), "kind"),
        (admin.ListMyItems, pb.ListMyItemsRequest(limit=-1), "limit"),
        (admin.SearchItems, pb.SearchItemsRequest(query="  "), "query"),
        (lambda r: stub.SearchPublicItems(r, timeout=10), pb.SearchPublicItemsRequest(region="abc"), "region"),
        (lambda r: stub.GetUnit(r, timeout=10), pb.GetUnitRequest(code="12345"), "code"),
        (lambda r: stub.MapCode(r, timeout=10), pb.MapCodeRequest(province="x"), "province"),
        (lambda r: stub.ListCodeMappings(r, timeout=10), pb.ListCodeMappingsRequest(province="620"), "province"),
        (lambda r: stub.ListCodeMappings(r, timeout=10), pb.ListCodeMappingsRequest(province="62"), "code_set"),
        (lambda r: stub.RenderGuide(r, timeout=10), pb.RenderGuideRequest(item_id=item.id), "format"),
    ]
    for fn, request, field in cases:
        e = err(fn, request)
        assert (e.code(), field_of(e)) == (grpc.StatusCode.INVALID_ARGUMENT, field), (request, e.details())
    dup = err(admin.CreateItem, pb.CreateItemRequest(elements=elements(basic_code=item.elements.basic_code)))
    assert (dup.code(), field_of(dup)) == (grpc.StatusCode.ALREADY_EXISTS, "elements.basic_code")
    e = err(admin.PublishItem, pb.PublishItemRequest(item_id=item.id))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    e = err(admin.DelegateItem, pb.DelegateItemRequest(item_id=item.id, target_tenants=["513221100"],
                                                       kind=pb.LISTING_KIND_DELEGATED))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED


def test_public_reads_and_code_mappings(stub, as_):
    item = published(as_)
    assert stub.GetPublicItem(pb.GetPublicItemRequest(item_id=item.id), timeout=10).id == item.id
    draft = as_("county.admin").CreateItem(pb.CreateItemRequest(elements=elements()))
    assert err(stub.GetPublicItem, pb.GetPublicItemRequest(item_id=draft.id), timeout=10).code() == \
        grpc.StatusCode.NOT_FOUND
    pdf = stub.RenderGuide(pb.RenderGuideRequest(item_id=item.id, format=pb.GUIDE_FORMAT_PDF), timeout=30)
    assert pdf.content.startswith(b"%PDF") and pdf.content_type == "application/pdf"
    html = stub.RenderGuide(pb.RenderGuideRequest(item_id=item.id, format=pb.GUIDE_FORMAT_HTML), timeout=30)
    assert "农村村民宅基地审批" in html.content.decode() and "凉州区" in html.content.decode()
    assert err(stub.RenderGuide, pb.RenderGuideRequest(item_id=draft.id, format=pb.GUIDE_FORMAT_HTML),
               timeout=10).code() == grpc.StatusCode.NOT_FOUND
    m = stub.MapCode(pb.MapCodeRequest(province="51", code_set="item_type", external_code="1"), timeout=10)
    assert (m.internal_code, m.label) == ("01", "行政许可")
    table = stub.ListCodeMappings(pb.ListCodeMappingsRequest(province="62", code_set="progress"), timeout=10)
    assert ("3", "3", "受理通过") in {(c.external_code, c.internal_code, c.label) for c in table.mappings}
    assert not stub.ListCodeMappings(pb.ListCodeMappingsRequest(province="99", code_set="progress"),
                                     timeout=10).mappings
    units = stub.ListChildUnits(pb.ListChildUnitsRequest(code="620602001"), timeout=10).units
    codes = [u.code for u in units]
    assert {"620602001001", "620602001002"} <= set(codes) and codes == sorted(codes)
    assert all(c.startswith("620602001") and len(c) == 12 for c in codes)


def test_resolve_handling_unit_follows_delegation_and_proxy(as_):
    county_item = published(as_, name="建设工程规划许可证核发", exercise_level="4")
    delegated = published(as_, name="个体工商户设立登记")
    as_("county.admin").DelegateItem(pb.DelegateItemRequest(item_id=delegated.id, target_tenants=["620602001"],
                                                            kind=pb.LISTING_KIND_DELEGATED))
    as_("county.admin").DelegateItem(pb.DelegateItemRequest(item_id=delegated.id, target_tenants=["620602001001"],
                                                            kind=pb.LISTING_KIND_PROXY))
    as_("county.admin").DelegateItem(pb.DelegateItemRequest(item_id=county_item.id, target_tenants=["620602001001"],
                                                            kind=pb.LISTING_KIND_PROXY))

    def resolve(user, item):
        return as_(user).ResolveHandlingUnit(pb.ResolveHandlingUnitRequest(item_id=item.id))

    r = resolve("county.clerk", county_item)
    assert (r.handling_tenant, r.proxy, r.handling_unit_name) == ("620602", False, "凉州区")
    r = resolve("dongdajie.clerk", delegated)
    assert (r.handling_tenant, r.proxy) == ("620602001", False)
    # the village point proxies: to its township where delegated, to the county otherwise
    assert (resolve("nanyuan.agent", delegated).handling_tenant, resolve("nanyuan.agent", delegated).proxy) == \
        ("620602001", True)
    assert resolve("nanyuan.agent", county_item).handling_tenant == "620602"
    # not in the list: refused with the reason
    for user, item in (("dongdajie.clerk", county_item), ("dazhong.agent", delegated)):
        e = err(as_(user).ResolveHandlingUnit, pb.ResolveHandlingUnitRequest(item_id=item.id))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and "清单之外无许可" in e.details()
    as_("county.admin").CancelItem(pb.CancelItemRequest(item_id=county_item.id, reason="取消"))
    e = err(as_("county.clerk").ResolveHandlingUnit, pb.ResolveHandlingUnitRequest(item_id=county_item.id))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and "已取消" in e.details()


def test_a_township_centre_may_be_listed_for_proxy_and_forwards_to_the_county(as_):
    """帮办代办 at every level (issue 21 item 1): seed 001 “由乡镇（街道）民生服务中心或村（社区）免费代办”."""
    item = published(as_, name="建设工程规划许可证核发", exercise_level="4")
    as_("county.admin").DelegateItem(pb.DelegateItemRequest(item_id=item.id, target_tenants=["620602001"],
                                                            kind=pb.LISTING_KIND_PROXY))
    r = as_("dongdajie.clerk").ResolveHandlingUnit(pb.ResolveHandlingUnitRequest(item_id=item.id))
    assert (r.handling_tenant, r.proxy, r.collect) == ("620602", True, False)


def test_a_township_window_listed_for_collection_takes_in_on_the_countys_behalf(as_):
    """代收 (issue 21 item 6; seed 003 §4 “代为收件（受理）”): the county still decides."""
    item = published(as_, name="老年人优待证办理", exercise_level="4")
    as_("county.admin").DelegateItem(pb.DelegateItemRequest(item_id=item.id, target_tenants=["620602002"],
                                                            kind=pb.LISTING_KIND_COLLECT))
    r = as_("xidajie.clerk").ResolveHandlingUnit(pb.ResolveHandlingUnitRequest(item_id=item.id))
    assert (r.handling_tenant, r.proxy, r.collect) == ("620602", False, True)
    e = err(as_("county.admin").DelegateItem, pb.DelegateItemRequest(
        item_id=item.id, target_tenants=["620602001001"], kind=pb.LISTING_KIND_COLLECT))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_cached_reads_follow_every_change_and_never_hold_drafts(as_, stub):
    admin = as_("county.admin")
    draft = admin.CreateItem(pb.CreateItemRequest(elements=elements()))
    assert admin.GetItem(pb.GetItemRequest(item_id=draft.id)).status == pb.ITEM_STATUS_DRAFT
    assert err(stub.GetPublicItem, pb.GetPublicItemRequest(item_id=draft.id), timeout=10).code() == \
        grpc.StatusCode.NOT_FOUND
    item = admin.PublishItem(pb.PublishItemRequest(item_id=draft.id))
    for _ in range(3):  # warm the cache
        assert admin.GetItem(pb.GetItemRequest(item_id=item.id)).version == 1
        assert stub.GetPublicItem(pb.GetPublicItemRequest(item_id=item.id), timeout=10).version == 1
    admin.AdjustItem(pb.AdjustItemRequest(item_id=item.id, reason="压缩时限", elements=elements(
        basic_code=item.elements.basic_code, promised_limit_days=7)))
    now = admin.GetItem(pb.GetItemRequest(item_id=item.id))
    assert (now.version, now.elements.promised_limit_days, now.status) == (2, 7, pb.ITEM_STATUS_PUBLISHED)
    old = admin.GetItem(pb.GetItemRequest(item_id=item.id, version=1))
    assert (old.version, old.status) == (1, pb.ITEM_STATUS_SUPERSEDED)
    # a sibling township's token is refused on a cache hit exactly as on a miss
    assert err(as_("wenchuan.admin").GetItem, pb.GetItemRequest(item_id=item.id)).code() == grpc.StatusCode.NOT_FOUND
    admin.CancelItem(pb.CancelItemRequest(item_id=item.id, reason="取消"))
    assert err(stub.GetPublicItem, pb.GetPublicItemRequest(item_id=item.id), timeout=10).code() == \
        grpc.StatusCode.NOT_FOUND
    assert admin.GetItem(pb.GetItemRequest(item_id=item.id)).status == pb.ITEM_STATUS_CANCELLED


# -- provinces as data (issue 23) ----------------------------------------------------------------------------
def test_province_records_through_grpc_each_written_by_its_own_province(stub, as_):
    gansu = stub.GetProvince(pb.GetProvinceRequest(tenant_code="62"), timeout=10)      # public: no token
    assert gansu.name == "甘肃省" and gansu.calendar_region == "62"
    listed = stub.ListProvinces(pb.ListProvincesRequest(), timeout=10).provinces
    assert {"51", "62"} <= {p.tenant_code for p in listed}
    changed = pb.Province(tenant_code="62", name="甘肃省", payment_key_ref="gansu-pay", n_tong=["事项名称", "设定依据"],
                          complaint_working_days=True, rectification_days=10,
                          supervision_thresholds={"case-promised-deadline.yellow_working_days": 2})
    for user in ("sichuan.admin", "county.admin", "county.clerk"):     # another province, a county, not an admin
        e = err(as_(user).UpdateProvince, pb.UpdateProvinceRequest(province=changed))
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED, user
    assert stub.GetProvince(pb.GetProvinceRequest(tenant_code="62"), timeout=10) == gansu
    try:
        done = as_("gansu.admin").UpdateProvince(pb.UpdateProvinceRequest(province=changed))
        assert (done.payment_key_ref, list(done.n_tong), done.rectification_days, done.updated_by) == \
            ("gansu-pay", ["事项名称", "设定依据"], 10, "gansu.admin")
        assert dict(stub.GetProvince(pb.GetProvinceRequest(tenant_code="62"), timeout=10).supervision_thresholds) == \
            {"case-promised-deadline.yellow_working_days": 2}
        bad = pb.Province(tenant_code="62", name="甘肃省", rectification_days=10,
                          supervision_thresholds={"case-promised-deadline.red_days": 2})
        e = err(as_("gansu.admin").UpdateProvince, pb.UpdateProvinceRequest(province=bad))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "supervision_thresholds"
        bad = pb.Province(tenant_code="62", name="甘肃省", rectification_days=0)
        e = err(as_("gansu.admin").UpdateProvince, pb.UpdateProvinceRequest(province=bad))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "rectification_days"
        e = err(stub.GetProvince, pb.GetProvinceRequest(tenant_code="6x"), timeout=10)
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "tenant_code"
    finally:
        as_("gansu.admin").UpdateProvince(pb.UpdateProvinceRequest(province=pb.Province(
            tenant_code="62", name=gansu.name, calendar_region=gansu.calendar_region, complaint_working_days=True,
            rectification_days=gansu.rectification_days)))
