"""Statuses at the REST edge (gateway/rest.py): every `…Status` enum of ours is written as its lower-case
token wherever it sits in an answer (nested, repeated, in a map), the zero as "", and read from a query
parameter only as one of those tokens; other enums keep their value names. /openapi.json lists the same
strings."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sanji.agency.v1 import agency_pb2 as apb
from sanji.approval.v1 import approval_pb2 as pb
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.fees.v1 import fees_pb2 as fpb
from sanji.intake.v1 import intake_pb2 as ipb

from gateway import contract
from gateway.errors import install as install_errors
from gateway.rest import enum_json_values, is_status_enum, status_number, status_query, status_tokens, to_json


def test_tokens_are_the_value_names_without_the_prefix_lower_cased():
    assert status_tokens(pb.CaseStatus) == {0: "", 1: "review", 2: "decision", 3: "awaiting_fees", 4: "completed",
                                            5: "delivered", 6: "terminated"}
    assert status_tokens(fpb.ReconciliationEntryStatus)[fpb.RECONCILIATION_ENTRY_STATUS_MATCHED] == "matched"
    assert status_tokens(apb.ProxyRequestStatus)[apb.PROXY_REQUEST_STATUS_RESULT_READY] == "result_ready"
    assert is_status_enum(ipb.ApplicationStatus.DESCRIPTOR) and not is_status_enum(ipb.Channel.DESCRIPTOR)
    assert enum_json_values(ipb.Channel) == ["CHANNEL_UNSPECIFIED", "CHANNEL_WINDOW", "CHANNEL_PC", "CHANNEL_MOBILE",
                                             "CHANNEL_POST"]


def test_to_json_writes_statuses_as_tokens_at_any_depth_and_leaves_other_enums_alone():
    case = pb.Case(status=pb.CASE_STATUS_AWAITING_FEES, steps=[pb.Step(status=pb.STEP_STATUS_DONE),
                                                               pb.Step(status=pb.STEP_STATUS_CLAIMED), pb.Step()],
                   inspections=[pb.Inspection(status=pb.INSPECTION_STATUS_RECORDED)])
    out = to_json(pb.ListCasesResponse(cases=[case, pb.Case()], total=2))
    assert out["cases"][0]["status"] == "awaiting_fees"
    assert [s["status"] for s in out["cases"][0]["steps"]] == ["done", "claimed", ""]
    assert out["cases"][0]["inspections"][0]["status"] == "recorded"
    assert out["cases"][1]["status"] == "" and out["total"] == 2
    fees = to_json(fpb.CaseFees(status=fpb.CASE_STATUS_NOTICED, notice=fpb.Notice(status=fpb.NOTICE_STATUS_ISSUED),
                                lines=[fpb.FeeLine(status=fpb.FEE_LINE_STATUS_WAIVED, kind=fpb.STANDARD_KIND_RANGE)]))
    assert (fees["status"], fees["notice"]["status"], fees["lines"][0]["status"]) == ("noticed", "issued", "waived")
    assert fees["lines"][0]["kind"] == "STANDARD_KIND_RANGE"                    # not a status: the name, as before
    item = to_json(cpb.Item(status=cpb.ITEM_STATUS_PUBLISHED, listing=cpb.LISTING_KIND_PROXY))
    assert (item["status"], item["listing"]) == ("published", "LISTING_KIND_PROXY")
    app = to_json(ipb.Application(status=ipb.APPLICATION_STATUS_PICKED_UP, channel=ipb.CHANNEL_POST))
    assert (app["status"], app["channel"]) == ("picked_up", "CHANNEL_POST")


def test_a_number_no_token_names_is_written_as_the_number():
    assert to_json(pb.Case(status=42))["status"] == 42


def test_a_message_without_statuses_is_written_as_protobuf_writes_it():
    msg = fpb.PaymentCallbackResult(outcome="recorded", settled=True)
    assert to_json(msg) == {"outcome": "recorded", "payment_id": "", "notice_number": "", "message": "",
                            "reconciliation_id": "", "settled": True}


@pytest.fixture(scope="module")
def client():
    app = FastAPI()
    install_errors(app)

    @app.get("/cases")
    def cases(status: str = status_query(pb.CaseStatus, "办件状态")):
        return {"number": status_number(pb.CaseStatus, status)}

    return TestClient(app)


@pytest.mark.parametrize("token, number", [("", 0), ("review", 1), ("awaiting_fees", 3), ("terminated", 6)])
def test_a_status_query_reads_the_tokens(client, token, number):
    r = client.get("/cases", params={"status": token})
    assert r.status_code == 200 and r.json() == {"number": number}
    assert client.get("/cases").json() == {"number": 0}


@pytest.mark.parametrize("bad", ["CASE_STATUS_REVIEW", "Review", "unspecified", "3", " review", "review|decision",
                                 "awaiting", "x" * 100])
def test_a_status_query_refuses_anything_else_naming_the_parameter(client, bad):
    r = client.get("/cases", params={"status": bad})
    assert r.status_code == 422 and r.json()["field"] == "status" and not r.json()["message"].isascii()


def test_the_contract_lists_the_strings_to_json_writes():
    schemas: dict = {}
    contract.message_schema(pb.Case.DESCRIPTOR, schemas)
    assert schemas["sanji.approval.v1.Case"]["properties"]["status"]["enum"] == [
        "", "review", "decision", "awaiting_fees", "completed", "delivered", "terminated"]
    assert schemas["sanji.approval.v1.Step"]["properties"]["status"]["enum"][1:] == [
        "waiting", "open", "claimed", "done", "cancelled"]
    contract.message_schema(cpb.Item.DESCRIPTOR, schemas)
    assert "LISTING_KIND_PROXY" in schemas["sanji.catalogue.v1.Item"]["properties"]["listing"]["enum"]
