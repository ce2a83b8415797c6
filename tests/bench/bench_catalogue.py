"""GetItem and SearchItems on the real catalogue process, beside the bare echo baseline."""

from __future__ import annotations

import grpc
from sanji.catalogue.v1 import catalogue_pb2 as pb
from sanji.catalogue.v1 import catalogue_pb2_grpc

from conftest import free_port
from infra.demo.load import load_catalogue, load_demo_users
from infra.oidc.client import login
from shared.grpc.client import bearer
from tests.bench.bench_grpc import drive, echo_baseline, figures
from tests.bench.common import Figure

CALLS = 4000


def run(platform) -> list[Figure]:
    users = load_demo_users()
    load_catalogue(platform.catalogue_target, platform.oidc_url, users)
    admin = next(u for u in users if u["tenant"] == "620602" and "tenant_admin" in u["roles"])
    md = bearer(login(platform.oidc_url, admin["username"], admin["password"]))
    base_rate, base_lat = echo_baseline(free_port(), CALLS)
    out: list[Figure] = []
    with grpc.insecure_channel(platform.catalogue_target) as ch:
        stub = catalogue_pb2_grpc.CatalogueServiceStub(ch)
        items = stub.ListMyItems(pb.ListMyItemsRequest(limit=50), metadata=md).items
        ids = [i.id for i in items]
        n = [0]

        def get_item():
            n[0] += 1
            return stub.GetItem(pb.GetItemRequest(item_id=ids[n[0] % len(ids)]), metadata=md, timeout=10)

        queries = ["宅基地", "许可", "个体工商户", "残疾人", "养老保险", "登记"]

        def search():
            n[0] += 1
            return stub.SearchItems(pb.SearchItemsRequest(query=queries[n[0] % len(queries)], limit=20), metadata=md,
                                    timeout=10)

        for _ in range(100):
            get_item()
            search()
        rate, lat = drive(get_item, CALLS)
        out += figures("catalogue GetItem", rate, lat, base_rate, base_lat)
        rate, lat = drive(search, CALLS)
        out += figures("catalogue SearchItems", rate, lat, base_rate, base_lat)
    return out
