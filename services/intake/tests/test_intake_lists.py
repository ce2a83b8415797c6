"""The window's list read in index order (issue 22 item 4): two index-ordered branches (the tenant's own
applications and those it collected for a higher level, 代收) merged into one page — the same rows in the
same order as the one statement it replaced, page after page, with and without a status filter, and the
total counted (up to LIST_TOTAL_CAP)."""

from __future__ import annotations

import datetime as dt

from sanji.intake.v1 import intake_pb2 as pb
from sqlalchemy import text

from services.intake.repository import LIST_TOTAL_CAP
from services.intake.tests.conftest import COUNTY, TOWNSHIP, collected_item, submit_request, whole_list

# the statement the list ran before (a scan of the tenant's whole year): the reference order
_REFERENCE = ("SELECT id::text, status FROM intake.applications a WHERE (a.tenant_code = :t OR a.collect_tenant = :t)"
              " ORDER BY a.received_at DESC, a.id")


def _reference(intake_db, tenant: str, status: str | None = None) -> list[str]:
    with intake_db.unit_of_work(tenant=tenant) as uow:
        rows = uow.session.execute(text(_REFERENCE), {"t": tenant}).all()
    return [r[0] for r in rows if status is None or r[1] == status]


def _walk(caller, page: int, **filters) -> tuple[list[str], set[tuple[int, bool]]]:
    ids: list[str] = []
    totals: set[tuple[int, bool]] = set()
    while True:
        got = caller.ListApplications(pb.ListApplicationsRequest(limit=page, offset=len(ids), **filters))
        totals.add((got.total, got.total_capped))
        ids += [a.id for a in got.applications]
        if len(got.applications) < page:
            return ids, totals


def test_the_window_list_is_the_same_rows_in_the_same_order_when_both_tenant_conditions_match(
        stub, tokens, as_user, clerk, township_item, intake_db, today):
    county_item = collected_item(stub, tokens, "老年人优待证办理")
    own, collected = [], []
    for day in range(3):        # interleaved in time: the merge must interleave the branches
        today.set_today(dt.date(2026, 3, 2) + dt.timedelta(days=day))
        own.append(clerk.SubmitApplication(submit_request(township_item)))
        collected.append(clerk.SubmitApplication(submit_request(county_item)))
    assert {a.tenant for a in own} == {TOWNSHIP} and {(a.tenant, a.collect_tenant) for a in collected} == \
        {(COUNTY, TOWNSHIP)}
    # accepted: one of its own and every collected one
    for app in (own[0], *collected):
        clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    # a tie on received_at across both branches: the order falls to the id, as before
    tie = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    for tenant, apps in ((TOWNSHIP, own[1:]), (COUNTY, collected[1:])):
        with intake_db.unit_of_work(tenant=tenant) as uow:
            uow.session.execute(text("UPDATE intake.applications SET received_at = :at"
                                     " WHERE id = ANY(CAST(:ids AS uuid[]))"), {"at": tie, "ids": [a.id for a in apps]})

    reference = _reference(intake_db, TOWNSHIP)
    mine = {a.id for a in own + collected}
    assert mine <= set(reference)
    for page in (1, 4, 7, 200):
        ids, totals = _walk(clerk, page)
        assert ids == reference, page
        assert totals == {(min(len(reference), LIST_TOTAL_CAP), len(reference) > LIST_TOTAL_CAP)}
    accepted = _reference(intake_db, TOWNSHIP, "accepted")
    assert {own[0].id, *(a.id for a in collected)} <= set(accepted)
    ids, totals = _walk(clerk, 3, status=pb.APPLICATION_STATUS_ACCEPTED)
    assert ids == accepted and totals == {(len(accepted), False)}
    received = _reference(intake_db, TOWNSHIP, "received")
    assert {own[1].id, own[2].id} <= set(received)
    assert _walk(clerk, 2, status=pb.APPLICATION_STATUS_RECEIVED)[0] == received
    # the county's own list holds the collected applications once (its branch), not the township's own
    county = _reference(intake_db, COUNTY)
    assert {a.id for a in collected} <= set(county) and not {a.id for a in own} & set(county)
    assert _walk(as_user("county.clerk"), 50)[0] == county


# what a list leaves to GetApplication (ListApplications' projection, issue 22 item 4)
_NOT_LISTED = ("materials", "open_corrections", "waived", "notices", "history", "form", "query_code")


def test_a_listed_application_is_its_full_read_without_its_file(clerk, as_user, township_item):
    """Each application in the list is what GetApplication answers for it, field by field, but for what the list
    leaves out (its materials, corrections, promises, form, query code, notices and history); in every state
    the list reads it in, and seen by no other tenant."""
    received = clerk.SubmitApplication(submit_request(township_item, form={"用途": "自住"}))
    corrected = clerk.SubmitApplication(submit_request(township_item))
    clerk.RequestCorrection(pb.RequestCorrectionRequest(application_id=corrected.id, items=[
        pb.CorrectionItem(material_code="M2", problem="复印件不清晰")]))
    refused = clerk.SubmitApplication(submit_request(township_item))
    clerk.RejectApplication(pb.RejectApplicationRequest(application_id=refused.id, reason="不属于本机关职权范围",
                                                        legal_basis="《行政许可法》第三十二条"))
    accepted = clerk.SubmitApplication(submit_request(township_item))
    clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=accepted.id))
    mine = {a.id for a in (received, corrected, refused, accepted)}

    everything = whole_list(clerk)
    assert mine <= {a.id for a in everything}
    # the four, and the first page beside them (other tests' applications, in their states)
    listed = {a.id: a for a in everything[:200] + [a for a in everything if a.id in mine]}
    full_reads = {}
    for app_id, row in listed.items():
        full = clerk.GetApplication(pb.GetApplicationRequest(application_id=app_id))
        full_reads[app_id] = pb.Application()
        full_reads[app_id].CopyFrom(full)
        for name in _NOT_LISTED:
            full.ClearField(name)
        assert row == full, app_id
    # the states above put something in every field the list shows, and in what it leaves out
    rows = [listed[i] for i in mine]
    assert {r.status for r in rows} == {pb.APPLICATION_STATUS_RECEIVED, pb.APPLICATION_STATUS_CORRECTION,
                                        pb.APPLICATION_STATUS_ACCEPTED}
    assert listed[refused.id].rejection.pending and listed[refused.id].rejection.reason == "不属于本机关职权范围"
    got = listed[accepted.id]
    assert got.case_number and got.accepted_at and got.accepted_on and got.applicant.address == "凉州区东大街 1 号"
    assert got.item_name == township_item.elements.name and got.case_kind and got.handling_unit_name
    assert all(r.applicant.name and r.applicant.id_number and r.received_at for r in rows)
    assert listed[received.id].decision_due and listed[received.id].channel == pb.CHANNEL_WINDOW
    left_out = full_reads[accepted.id]
    assert left_out.query_code and left_out.notices and left_out.history and left_out.materials
    assert full_reads[received.id].form["用途"] == "自住" and full_reads[corrected.id].open_corrections
    assert not any(r.ListFields() and (r.history or r.notices or r.materials or r.query_code or r.form)
                   for r in listed.values())
    # another unit's window (the county's; a sibling township's) lists none of them
    for user in ("county.clerk", "xidajie.clerk"):
        assert not mine & {a.id for a in whole_list(as_user(user))}, user
