"""Cases up with the province's own progress codes: the code each report carries comes from the catalogue's
code-mapping tables (code set `progress`, per province), not from a table in the docking gateway's code; a
province with no table gets the documented default (the internal code)."""

from __future__ import annotations

import json
import uuid

import pytest
from sanji.intake.v1 import events_pb2 as intake_ev

from gateway.docking.clients import CatalogueClient
from gateway.docking.service import SUBSCRIPTIONS
from gateway.docking.tests.conftest import COUNTY, make_handlers, owner_exec
from shared.db import sql
from tests.support import deliver_event, subscribed

NINGXIA_COUNTY = "640104"      # 银川市兴庆区: a province whose table the test writes


@pytest.fixture
def ningxia_codes(migrated):
    url = migrated.database_owner_url
    owner_exec(url, "INSERT INTO catalogue.code_mappings VALUES ('64', 'progress', '0301', '3', '受理通过'),"
                    " ('64', 'progress', '0302', '3', '受理通过（容缺）'), ('64', 'progress', '0401', '4', '不予受理')")
    yield
    owner_exec(url, "DELETE FROM catalogue.code_mappings WHERE province = '64' AND code_set = 'progress'")


def _accepted(handlers, db, tenant: str, unsent: list[tuple[str, str]]) -> dict:
    case = f"{tenant}{uuid.uuid4().hex[:10].upper()}"
    unsent.append((tenant, case))
    deliver_event(subscribed(SUBSCRIPTIONS, "report_application_accepted", handlers), db, tenant,
                  intake_ev.ApplicationAccepted(application_id=str(uuid.uuid4()), tenant=tenant, case_number=case),
                  source="intake")
    with db.unit_of_work(tenant=tenant) as uow:
        body = uow.value(sql("SELECT body FROM docking.outbound WHERE case_key = :c"), {"c": case})
    return body if isinstance(body, dict) else json.loads(body)


def test_a_report_carries_the_provinces_code_from_the_catalogues_mapping_table(
        ningxia_codes, docking_db, county_keys, province_keys, catalogue_server, unsent):
    h = make_handlers(docking_db, county_keys, province_keys, catalogue=CatalogueClient(catalogue_server))
    assert _accepted(h, docking_db, NINGXIA_COUNTY, unsent)["progress_code"] == "0301"
    assert _accepted(h, docking_db, COUNTY, unsent)["progress_code"] == "3"          # Gansu's table: one to one
    # a province without a table: the documented default, the internal code
    assert _accepted(h, docking_db, "150102", unsent)["progress_code"] == "3"


def test_a_catalogue_that_cannot_answer_leaves_the_event_to_be_tried_again(docking_db, county_keys, province_keys,
                                                                          unsent):
    import grpc

    h = make_handlers(docking_db, county_keys, province_keys, catalogue=CatalogueClient("127.0.0.1:9", timeout=1))
    with pytest.raises(grpc.RpcError):
        _accepted(h, docking_db, COUNTY, unsent)
