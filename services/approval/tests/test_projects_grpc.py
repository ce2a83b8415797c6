"""Whole-project limits through the real gRPC server and database, and over REST (issue 21 item 8): seed 002
“房地产建设项目审批时间压缩到70个工作日以内”; seed 003 §35 “全过程审批时间控制在100个工作日以内”."""

from __future__ import annotations

import grpc
import pytest
from fastapi.testclient import TestClient
from sanji.approval.v1 import approval_pb2 as pb

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.approval.tests.conftest import field_of, rpc_error

PD, NF, IA, FP = (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT,
                  grpc.StatusCode.FAILED_PRECONDITION)


def test_a_project_groups_the_units_cases_keeps_its_own_ledger_and_names_who_holds_it_up(bus, as_):
    head = as_("county.head")
    project = head.CreateProject(pb.CreateProjectRequest(name="凉州区天马湖住宅小区一期", kind="real_estate",
                                                         started_on="2026-09-18"))
    assert (project.limit_days, project.cap_days, project.kind_name) == (70, 70, "房地产建设项目")
    assert project.due and not project.late and not project.holding_up
    planning = bus.accepted(item_name="建设工程规划许可证核发", department="凉州区自然资源局", promised_limit_days=10)
    building = bus.accepted(item_name="建筑工程施工许可证核发", department="凉州区住房和城乡建设局",
                            promised_limit_days=15)
    for msg in (planning, building):
        project = head.AddCaseToProject(pb.AddCaseToProjectRequest(project_id=project.id,
                                                                   case_number=msg.case_number))
    assert [c.department for c in project.cases] == ["凉州区自然资源局", "凉州区住房和城乡建设局"]
    [hold] = project.holding_up                         # the open case promised last holds the project up
    assert (hold.case_number, hold.department) == (building.case_number, "凉州区住房和城乡建设局")
    e = rpc_error(head.AddCaseToProject, pb.AddCaseToProjectRequest(project_id=project.id,
                                                                    case_number=building.case_number))
    assert e.code() == FP and field_of(e) == "case_number"
    # its own ledger: suspended with a reason, no due date while it runs, then resumed
    e = rpc_error(head.SuspendProject, pb.SuspendProjectRequest(project_id=project.id, reason=""))
    assert e.code() == IA and field_of(e) == "reason"
    project = head.SuspendProject(pb.SuspendProjectRequest(project_id=project.id, reason="规划方案专家评审"))
    assert project.suspended and project.due == "" and project.ledger[0].reason == "规划方案专家评审"
    project = head.ResumeProject(pb.ResumeProjectRequest(project_id=project.id))
    assert not project.suspended and project.due and project.ledger[0].end == "2026-09-18"
    # the back office reads it; a reviewer does not manage it
    assert as_("county.reviewer").GetProject(pb.GetProjectRequest(project_id=project.id)).id == project.id
    assert rpc_error(as_("county.reviewer").CreateProject, pb.CreateProjectRequest(
        name="x", kind="construction")).code() == PD


@pytest.mark.parametrize("request_, field", [
    (pb.CreateProjectRequest(name="", kind="construction"), "name"),
    (pb.CreateProjectRequest(name="工业园标准厂房", kind="farm"), "kind"),
    (pb.CreateProjectRequest(name="工业园标准厂房", kind="construction", limit_days=101), "limit_days"),
    (pb.CreateProjectRequest(name="住宅小区", kind="real_estate", limit_days=71), "limit_days"),
    (pb.CreateProjectRequest(name="住宅小区", kind="real_estate", started_on="2026-13-01"), "started_on"),
])
def test_bad_project_input_is_refused_naming_the_field(as_, request_, field):
    e = rpc_error(as_("county.head").CreateProject, request_)
    assert e.code() == IA and field_of(e) == field and not e.details().isascii()


def test_a_project_and_its_cases_stay_within_the_unit(bus, as_):
    project = as_("county.head").CreateProject(pb.CreateProjectRequest(name="凉州区物流园", kind="construction"))
    township_case = bus.accepted("620602001")
    e = rpc_error(as_("county.head").AddCaseToProject, pb.AddCaseToProjectRequest(
        project_id=project.id, case_number=township_case.case_number))
    assert e.code() == NF and field_of(e) == "case_number"
    for user in ("dongdajie.head", "xidajie.reviewer"):
        e = rpc_error(as_(user).GetProject, pb.GetProjectRequest(project_id=project.id))
        assert e.code() == NF, user
    e = rpc_error(as_("dongdajie.head").SuspendProject, pb.SuspendProjectRequest(project_id=project.id,
                                                                                   reason="x"))
    assert e.code() == NF


def test_projects_over_rest(approval_server, oidc, verifier, tokens, bus):
    settings = GatewaySettings(approval_target=approval_server, oidc_server_url=oidc.url)
    head = {"authorization": f"Bearer {tokens['county.head']}"}
    with TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False) as client:
        r = client.post("/api/v1/approval/projects", json={"name": "工业园标准厂房", "kind": "construction"},
                        headers=head)
        assert r.status_code == 201 and r.json()["cap_days"] == 100, r.text
        pid = r.json()["id"]
        r = client.post("/api/v1/approval/projects", json={"name": "x", "kind": "farm"}, headers=head)
        assert r.status_code == 422 and r.json()["field"].startswith("kind")
        msg = bus.accepted()
        r = client.post(f"/api/v1/approval/projects/{pid}/cases", json={"case_number": msg.case_number},
                        headers=head)
        assert r.status_code == 200 and r.json()["holding_up"][0]["case_number"] == msg.case_number
        r = client.get(f"/api/v1/approval/projects/{pid}",
                       headers={"authorization": f"Bearer {tokens['dongdajie.head']}"})
        assert r.status_code == 404
