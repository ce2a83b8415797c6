"""Load the demo county into a running platform: units into the catalogue's reference data, then
the demo catalogue through the catalogue service's gRPC API, logged in as the county's tenant admin
(the same path an administrator's client takes — no back door).
Idempotent: items whose basic code already exists for the county are left as they are.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import grpc
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as pb
from sanji.catalogue.v1 import catalogue_pb2_grpc

from infra.oidc.client import login
from services.catalogue.admin import import_units
from shared.grpc.client import bearer

DEMO = Path(__file__).parent
DIVISIONS = DEMO / "divisions-620602.csv"
CATALOGUE = DEMO / "catalogue.json"
COUNTY = "620602"


def tree_rows() -> list[dict]:
    with DIVISIONS.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_demo_users() -> list[dict]:
    from infra.demo.users import demo_users

    return demo_users(tree_rows())


def load_units(owner_url: str) -> int:
    return import_units(owner_url, DIVISIONS.read_text(encoding="utf-8"))


def _admin(users: list[dict], tenant: str) -> dict:
    return next(u for u in users if u["tenant"] == tenant and "tenant_admin" in u["roles"])


def load_catalogue(catalogue_target: str, oidc_url: str, users: list[dict] | None = None) -> dict:
    users = users or load_demo_users()
    admin = _admin(users, COUNTY)
    token = login(oidc_url, admin["username"], admin["password"])
    md = bearer(token)
    rows = tree_rows()
    townships = [r["code"] for r in rows if len(r["code"]) == 9]
    villages = [r["code"] for r in rows if len(r["code"]) == 12]
    items = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    created = skipped = 0
    with grpc.insecure_channel(catalogue_target) as channel:
        stub = catalogue_pb2_grpc.CatalogueServiceStub(channel)
        existing = {it.elements.basic_code for it in stub.ListMyItems(
            pb.ListMyItemsRequest(include_drafts=True, limit=200), metadata=md, timeout=30).items}
        for spec in items:
            spec = dict(spec)
            listing = spec.pop("listing", "county")
            listing = listing if isinstance(listing, list) else [listing]
            elements = json_format.ParseDict(spec, pb.ItemElements())
            if elements.basic_code in existing:
                skipped += 1
                continue
            item = stub.CreateItem(pb.CreateItemRequest(elements=elements), metadata=md, timeout=30)
            stub.PublishItem(pb.PublishItemRequest(item_id=item.id), metadata=md, timeout=30)
            if "delegated" in listing:
                stub.DelegateItem(pb.DelegateItemRequest(item_id=item.id, target_tenants=townships,
                                                         kind=pb.LISTING_KIND_DELEGATED,
                                                         reason="下放乡镇（街道）便民服务中心办理"),
                                  metadata=md, timeout=60)
            if "proxy" in listing:
                stub.DelegateItem(pb.DelegateItemRequest(item_id=item.id, target_tenants=villages,
                                                         kind=pb.LISTING_KIND_PROXY,
                                                         reason="村（社区）便民服务代办点帮办代办"),
                                  metadata=md, timeout=60)
            created += 1
    return {"created": created, "skipped": skipped, "total": len(items)}


# the back office of each demo tenant: who sits at which desk (后台分类), and the one approval seal
DESKS = {"county": ["market_access", "investment", "social_affairs", "agriculture"],
         "township": ["market_access", "investment", "social_affairs", "agriculture"]}
SEALS = {COUNTY: ("武威市凉州区行政审批局行政审批专用章", "6206020000001"),
         "620602001": ("武威市凉州区东大街街道办事处便民服务专用章", "6206020010001")}


def load_approval_setup(approval_target: str, oidc_url: str, users: list[dict] | None = None) -> dict:
    """Give every demo reviewer and decider all four desks of their tenant and register each demo
    tenant's one approval seal, through the approval service's API as the tenant's admin.
    Idempotent: assignments are replaced, a seal already registered is left as it is."""
    from sanji.approval.v1 import approval_pb2 as apb
    from sanji.approval.v1 import approval_pb2_grpc

    users = users or load_demo_users()
    assigned = seals = 0
    with grpc.insecure_channel(approval_target) as channel:
        stub = approval_pb2_grpc.ApprovalServiceStub(channel)
        for tenant, (seal_name, seal_code) in SEALS.items():
            admin = _admin(users, tenant)
            md = bearer(login(oidc_url, admin["username"], admin["password"]))
            level = "county" if tenant == COUNTY else "township"
            for u in users:
                if u["tenant"] == tenant and {"reviewer", "decider"} & set(u["roles"]):
                    # the user logs in once, so approval has seen them as staff of the unit (issue 15)
                    stub.ListDesks(apb.ListDesksRequest(), metadata=bearer(login(oidc_url, u["username"],
                                                                                u["password"])), timeout=30)
                    stub.AssignDesks(apb.AssignDesksRequest(username=u["username"], desks=DESKS[level],
                                                            display_name=u["name"]), metadata=md, timeout=30)
                    assigned += 1
            try:
                stub.RegisterSeal(apb.RegisterSealRequest(name=seal_name, code=seal_code), metadata=md, timeout=30)
                seals += 1
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
    return {"desks": assigned, "seals": seals}
