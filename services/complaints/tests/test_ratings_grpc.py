"""Ratings (好差评) through the real gRPC server: 一事一评 proved by case number + ID suffix, one rating per case and
channel, 差评 → a rectification ticket due in 15 working days, the unit rectifies and answers, the rater rates the
rectification; appeals decided above (an upheld one stays in the record and leaves the figures); the window's
一次一评, 综合点评 and 监督查评; the public figures; walls and bad input."""

from __future__ import annotations

import uuid

import grpc
import pytest
from sanji.complaints.v1 import complaints_pb2 as pb

from .conftest import COUNTY, OTHER_TOWNSHIP, TOWNSHIP, err, field_of


def rate(as_, case_number: str, suffix: str, level: int, **kw) -> pb.Rating:
    return as_(None).RateCase(pb.RateCaseRequest(case_number=case_number, id_suffix=suffix, level=level, **kw))


def test_a_case_is_rated_once_per_channel(as_, put_case):
    number, suffix = put_case(COUNTY)
    r = rate(as_, number, suffix, 1, indicators=[pb.Indicator(code="overall", level=1),
                                                 pb.Indicator(code="efficiency", level=2)], text="办得快")
    assert (r.level, r.level_name, r.bad, r.channel, r.tenant) == (1, "非常满意", False, "case", COUNTY)
    assert r.staff == "county.decider" and not r.rectification_id and r.counted
    e = err(rate, as_, number, suffix, 2)
    assert e.code() == grpc.StatusCode.ALREADY_EXISTS and field_of(e) == "case_number" and "一事一评" in e.details()
    # the window's 一次一评 on the same case is another channel
    w = as_("county.clerk").SubmitRating(pb.SubmitRatingRequest(
        channel="window", case_number=number, level=2, indicators=[pb.Indicator(code="attitude", level=2)]))
    assert w.channel == "window" and w.staff == "county.clerk" and w.tenant == COUNTY
    e = err(as_("county.clerk").SubmitRating, pb.SubmitRatingRequest(channel="window", case_number=number, level=3))
    assert e.code() == grpc.StatusCode.ALREADY_EXISTS


def test_a_rating_needs_the_right_id_suffix_an_existing_case_and_an_accepted_one(as_, put_case):
    number, suffix = put_case(COUNTY)
    e = err(rate, as_, number, "00000" if suffix != "00000X" else "11111", 1)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "id_suffix"
    wrong = "99999X" if suffix != "99999X" else "88888X"
    e = err(rate, as_, number, wrong, 1)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "case_number"
    e = err(rate, as_, f"nope-{uuid.uuid4().hex[:8]}", suffix, 1)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "case_number"
    decided_only, s2 = put_case(COUNTY, accepted=False)
    e = err(rate, as_, decided_only, "00000X", 1)     # no suffix known before acceptance: not found either way
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_bad_rating_opens_a_rectification_the_unit_answers_and_the_rater_rates(as_, put_case):
    number, suffix = put_case(COUNTY, decider="county.decider2")
    r = rate(as_, number, suffix, 5, text="来回跑了三趟", rater_name="刘实名", phone="13912345678")
    assert r.bad and r.rectification_id and r.level_name == "非常不满意"
    h = as_("county.complaints")
    x = h.GetRectification(pb.GetRectificationRequest(rectification_id=r.rectification_id))
    # 谁办理、谁负责: the decider of the case; due 15 working days after the eve of National Day
    assert x.staff == "county.decider2" and x.due_on == "2026-10-27" and "计第15个工作日" in x.due_trace
    assert x.status == pb.RECTIFICATION_STATUS_OPEN and x.visit_required
    e = err(as_(None).RateRectification, pb.RateRectificationRequest(case_number=number, id_suffix=suffix,
                                                                     satisfaction="satisfied"))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION          # not answered yet
    x = h.Rectify(pb.RectifyRequest(rectification_id=x.id, verification="属实：材料清单未一次告知",
                                    measures="修订一次性告知单，窗口培训", answer="已整改，欢迎监督"))
    assert x.status == pb.RECTIFICATION_STATUS_ANSWERED and not x.late
    x = h.RecordRectificationVisit(pb.RectificationVisitRequest(rectification_id=x.id, method="phone",
                                                                result="已电话回访"))
    assert x.visited_at
    x = as_(None).RateRectification(pb.RateRectificationRequest(case_number=number, id_suffix=suffix,
                                                                satisfaction="basically_satisfied"))
    assert x.status == pb.RECTIFICATION_STATUS_RATED and x.satisfaction == "basically_satisfied"
    e = err(as_(None).RateRectification, pb.RateRectificationRequest(case_number=number, id_suffix=suffix,
                                                                     satisfaction="satisfied"))
    assert e.code() == grpc.StatusCode.ALREADY_EXISTS
    # the rater's name: the unit's complaint handlers see it, the staff member rated never would
    got = h.GetRating(pb.GetRatingRequest(rating_id=r.id))
    assert got.rater_name == "刘实名" and got.real_name


def test_an_upheld_appeal_keeps_the_rating_and_leaves_the_figures(as_, put_case):
    item = f"item-appeal-{uuid.uuid4().hex[:8]}"
    n1, s1 = put_case(TOWNSHIP, decider="dongdajie.decider", accepted_by="dongdajie.clerk", item_id=item)
    n2, s2 = put_case(TOWNSHIP, decider="dongdajie.decider", accepted_by="dongdajie.clerk", item_id=item)
    rate(as_, n1, s1, 2)
    bad = rate(as_, n2, s2, 4, text="恶意差评")
    before = as_(None).PublicFigures(pb.PublicFiguresRequest(item_id=item))
    assert (before.count, before.satisfied, before.bad) == (2, 1, 1) and before.satisfaction == 0.5
    e = err(as_("dongdajie.admin").AppealRating, pb.AppealRatingRequest(rating_id=bad.id, reason="", evidence="x"))
    assert field_of(e) == "reason"
    appeal = as_("dongdajie.admin").AppealRating(pb.AppealRatingRequest(
        rating_id=bad.id, reason="评价人并未办理该事项", evidence="窗口录像编号 2026-09-30-03"))
    assert appeal.status == pb.APPEAL_STATUS_PENDING
    e = err(as_("dongdajie.admin").AppealRating, pb.AppealRatingRequest(rating_id=bad.id, reason="再", evidence="x"))
    assert e.code() == grpc.StatusCode.ALREADY_EXISTS
    # the township cannot decide its own appeal; a sibling cannot see it; the county's supervisor decides
    assert bad.id not in {a.rating_id for a in as_("xidajie.admin").ListAppeals(pb.ListAppealsRequest()).appeals}
    decided = as_("county.supervisor").DecideAppeal(pb.DecideAppealRequest(appeal_id=appeal.id, upheld=True,
                                                                            note="经核查，申诉成立"))
    assert decided.status == pb.APPEAL_STATUS_UPHELD and decided.decided_by == "county.supervisor"
    e = err(as_("county.supervisor").DecideAppeal, pb.DecideAppealRequest(appeal_id=appeal.id, upheld=False,
                                                                          note="改判"))
    assert e.code() == grpc.StatusCode.ALREADY_EXISTS
    after = as_(None).PublicFigures(pb.PublicFiguresRequest(item_id=item))
    assert (after.count, after.satisfied, after.bad, after.satisfaction) == (1, 1, 0, 1.0)
    kept = as_("dongdajie.admin").GetRating(pb.GetRatingRequest(rating_id=bad.id))
    assert kept.level == 4 and kept.appeal_status == pb.APPEAL_STATUS_UPHELD and not kept.counted
    unit = as_(None).PublicFigures(pb.PublicFiguresRequest(unit=TOWNSHIP))
    assert unit.count == sum(unit.by_level) >= 1 and unit.unit == TOWNSHIP


def test_only_a_supervisor_above_decides(as_, put_case):
    number, suffix = put_case(TOWNSHIP, decider="dongdajie.decider")
    bad = rate(as_, number, suffix, 5)
    appeal = as_("dongdajie.admin").AppealRating(pb.AppealRatingRequest(rating_id=bad.id, reason="误评",
                                                                        evidence="录像"))
    e = err(as_("dongdajie.admin").DecideAppeal, pb.DecideAppealRequest(appeal_id=appeal.id, upheld=True, note="x"))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED
    good_number, good_suffix = put_case(TOWNSHIP)
    good = rate(as_, good_number, good_suffix, 1)
    e = err(as_("dongdajie.admin").AppealRating, pb.AppealRatingRequest(rating_id=good.id, reason="x", evidence="x"))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION           # only a 差评 is appealed


def test_comments_on_a_unit_and_supervision_ratings(as_):
    c = as_(None).SubmitRating(pb.SubmitRatingRequest(channel="unit_comment", tenant=TOWNSHIP, level=3,
                                                      text="大厅指引清楚"))
    assert c.tenant == TOWNSHIP and c.channel == "unit_comment" and not c.rater_name
    s = as_("county.supervisor").SubmitRating(pb.SubmitRatingRequest(channel="supervision", tenant=TOWNSHIP, level=4,
                                                                     text="暗访发现窗口空岗"))
    assert s.bad and s.rectification_id
    e = err(as_("county.supervisor").SubmitRating, pb.SubmitRatingRequest(channel="supervision", tenant="513221",
                                                                          level=1))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED
    e = err(as_(None).SubmitRating, pb.SubmitRatingRequest(channel="window", level=1))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED
    e = err(as_(None).SubmitRating, pb.SubmitRatingRequest(channel="supervision", tenant=TOWNSHIP, level=1))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_township_sees_only_its_own_ratings_and_rectifications(as_, put_case, complaints_db):
    number, suffix = put_case(TOWNSHIP, decider="dongdajie.decider")
    bad = rate(as_, number, suffix, 5)
    assert bad.id in {r.id for r in as_("dongdajie.admin").ListRatings(pb.ListRatingsRequest(limit=200)).ratings}
    assert bad.id not in {r.id for r in as_("xidajie.admin").ListRatings(pb.ListRatingsRequest(limit=200)).ratings}
    e = err(as_("xidajie.admin").GetRating, pb.GetRatingRequest(rating_id=bad.id))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    e = err(as_("xidajie.complaints").Rectify, pb.RectifyRequest(rectification_id=bad.rectification_id,
                                                                 verification="x", measures="x", answer="x"))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    e = err(as_("county.complaints").Rectify, pb.RectifyRequest(rectification_id=bad.rectification_id,
                                                                verification="x", measures="x", answer="x"))
    assert e.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED)
    # RLS with the filter removed: the sibling, the county without supervision and the public see none of it
    for tenant, subtree, expected in ((OTHER_TOWNSHIP, False, 0), (COUNTY, False, 0), (COUNTY, True, 1),
                                      (TOWNSHIP, False, 1)):
        with complaints_db.unit_of_work(tenant=tenant, subtree=subtree) as uow:
            n = uow.value("SELECT count(*) FROM complaints.ratings WHERE id = :id", {"id": bad.id})
            m = uow.value("SELECT count(*) FROM complaints.rectifications WHERE rating_id = :id", {"id": bad.id})
            k = uow.value("SELECT count(*) FROM complaints.cases WHERE case_number = :n", {"n": number})
        assert (n, m, k) == (expected,) * 3, tenant
    with complaints_db.unit_of_work() as uow:
        assert uow.value("SELECT count(*) FROM complaints.ratings WHERE id = :id", {"id": bad.id}) == 0
        assert uow.value("SELECT count(*) FROM complaints.cases WHERE case_number = :n", {"n": number}) == 0


@pytest.mark.parametrize(("request_", "field"), [
    (pb.RateCaseRequest(case_number="", id_suffix="12345X", level=1), "case_number"),
    (pb.RateCaseRequest(case_number="C", id_suffix="12345X", level=0), "level"),
    (pb.RateCaseRequest(case_number="C", id_suffix="12345X", level=6), "level"),
    (pb.RateCaseRequest(case_number="C", id_suffix="12345X", level=1, text="字" * 1001), "text"),
    (pb.RateCaseRequest(case_number="C", id_suffix="12345X", level=1,
                        indicators=[pb.Indicator(code="attitude", level=1)]), "indicators"),
    (pb.RateCaseRequest(case_number="C", id_suffix="12345X", level=1, phone="x"), "phone"),
    (pb.RateCaseRequest(case_number="C", id_suffix="1234", level=1), "id_suffix"),
])
def test_bad_ratings_are_refused_naming_the_field(as_, request_, field):
    e = err(as_(None).RateCase, request_)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == field, e.details()


def test_more_bad_input(as_):
    cases = [
        (as_(None).SubmitRating, pb.SubmitRatingRequest(channel="carrier_pigeon", level=1), "channel"),
        (as_(None).SubmitRating, pb.SubmitRatingRequest(channel="unit_comment", level=1), "tenant"),
        (as_(None).SubmitRating, pb.SubmitRatingRequest(channel="case", level=1), "channel"),
        (as_(None).PublicFigures, pb.PublicFiguresRequest(), "item_id"),
        (as_(None).PublicFigures, pb.PublicFiguresRequest(unit="12"), "unit"),
        (as_(None).RateRectification, pb.RateRectificationRequest(case_number="C", id_suffix="12345X",
                                                                  satisfaction="meh"), "satisfaction"),
        (as_("county.complaints").Rectify, pb.RectifyRequest(rectification_id="x"), "verification"),
        (as_("county.complaints").Rectify, pb.RectifyRequest(rectification_id="x", verification="x", measures="x",
                                                             answer="x"), "rectification_id"),
        (as_("county.complaints").GetRating, pb.GetRatingRequest(rating_id="x"), "rating_id"),
        (as_("county.supervisor").DecideAppeal, pb.DecideAppealRequest(appeal_id=str(uuid.uuid4())), "note"),
        (as_("county.complaints").ListRectifications, pb.ListRectificationsRequest(status=9), "status"),
    ]
    for call, request, field in cases:
        e = err(call, request)
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == field, (field, e.details())


def test_a_real_name_bad_rating_is_rated_only_after_its_return_visit_and_the_unit_figures_show_the_share(as_,
                                                                                                        put_case):
    """100 % return visits: the visit follows the answer (seed 000 §18: 电话回访…督查,逐项跟踪问效) and the rater
    cannot rate the rectification before it; the unit's public figures count real-name 差评 and those visited."""
    def unit_visits():
        f = as_(None).PublicFigures(pb.PublicFiguresRequest(unit=COUNTY))
        return f.real_name_bad, f.real_name_bad_visited
    before = unit_visits()
    number, suffix = put_case(COUNTY)
    r = rate(as_, number, suffix, 4, text="说明不清", rater_name="赵实名", phone="13912340000")
    anon_number, anon_suffix = put_case(COUNTY)
    anon = rate(as_, anon_number, anon_suffix, 5, text="匿名差评")
    assert unit_visits() == (before[0] + 1, before[1])          # the anonymous one owes no visit
    h = as_("county.complaints")
    e = err(h.RecordRectificationVisit, pb.RectificationVisitRequest(rectification_id=r.rectification_id,
                                                                     method="phone", result="回访"))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and field_of(e) == "answer"
    for x in (r, anon):
        h.Rectify(pb.RectifyRequest(rectification_id=x.rectification_id, verification="属实", measures="培训",
                                    answer="已整改"))
    e = err(as_(None).RateRectification, pb.RateRectificationRequest(case_number=number, id_suffix=suffix,
                                                                     satisfaction="satisfied"))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and field_of(e) == "return_visit"
    assert "回访" in e.details()
    # the anonymous 差评 is rated without a visit
    got = as_(None).RateRectification(pb.RateRectificationRequest(case_number=anon_number, id_suffix=anon_suffix,
                                                                  satisfaction="satisfied"))
    assert got.status == pb.RECTIFICATION_STATUS_RATED
    h.RecordRectificationVisit(pb.RectificationVisitRequest(rectification_id=r.rectification_id, method="on_site",
                                                            result="实地督查，已整改到位"))
    real_name_bad, visited = unit_visits()
    assert (real_name_bad, visited) == (before[0] + 1, before[1] + 1)
    f = as_(None).PublicFigures(pb.PublicFiguresRequest(unit=COUNTY))
    assert f.visit_share == pytest.approx(round(visited / real_name_bad, 4))
    got = as_(None).RateRectification(pb.RateRectificationRequest(case_number=number, id_suffix=suffix,
                                                                  satisfaction="satisfied"))
    assert got.status == pb.RECTIFICATION_STATUS_RATED
