"""`python -m infra.onboard` against the real database and the loopback identity provider (issue 23, item 2):
东昌府区 (371502, Shandong) from the national files as published (GBK and BOM among them) and a staff list
with a bad line; its staff log in with their unit and roles, its reviewers and deciders sit at every desk,
its units with a decider hold a placeholder seal, the report names each refused line and what the county
lacks — and nothing of the demo county is touched or seen."""

from __future__ import annotations

import csv
import secrets
from pathlib import Path

import pytest
from sqlalchemy import text

from infra.oidc.client import login
from infra.oidc.provider import ProviderServer
from infra.onboard.__main__ import FAILED, OnboardSettings, main
from shared.auth import TokenVerifier
from shared.db import Database, owner_connection

DATA = Path(__file__).resolve().parents[3] / "tests" / "data" / "divisions-371502"
COUNTY = "371502"
ADMIN_SECRET = secrets.token_urlsafe(24)
STAFF = """username,name,unit_code,roles,password
dcf.clerk,王受理,371502,综合受理员,pw-clerk
dcf.reviewer,张审核,371502,reviewer,pw-reviewer
dcf.decider,李决定,371502,决定人,pw-decider
dcf.admin,赵管理,371502,tenant_admin;head,pw-admin
gulou.decider,孙决定,371502001,decider,
Bad User,坏账号,371502,reviewer,
dcf.both,兼任,371502,reviewer;decider,
dcf.stranger,外县,620602,reviewer,
dcf.nobody,无角色,371502,厨师,
"""


@pytest.fixture(scope="module")
def provider():
    server = ProviderServer([], admin_clients={"sanji-admin": ADMIN_SECRET}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def settings(migrated, provider) -> OnboardSettings:
    return OnboardSettings(database_url=migrated.database_url, database_owner_url=migrated.database_owner_url,
                           oidc_server_url=provider.url, idp_admin_client_secret=ADMIN_SECRET)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The national files as a city's IT team has them: areas in GBK (Excel's "CSV"), streets with a BOM
    (Excel's "CSV UTF-8"), villages as published; the staff list in GBK."""
    d = tmp_path_factory.mktemp("onboard")
    raw = {name: (DATA / name).read_text(encoding="utf-8") for name in ("areas.csv", "streets.csv", "villages.csv")}
    (d / "areas.csv").write_bytes(raw["areas.csv"].encode("gbk"))
    (d / "streets.csv").write_bytes(raw["streets.csv"].encode("utf-8-sig"))
    (d / "villages.csv").write_bytes(raw["villages.csv"].encode("utf-8"))
    (d / "staff.csv").write_bytes(STAFF.encode("gbk"))
    return {"areas": d / "areas.csv", "streets": d / "streets.csv", "villages": d / "villages.csv",
            "staff": d / "staff.csv", "credentials": d / "initial-passwords.csv"}


def _argv(files: dict[str, Path]) -> list[str]:
    return ["--county", COUNTY, "--areas", str(files["areas"]), "--streets", str(files["streets"]),
            "--villages", str(files["villages"]), "--staff", str(files["staff"]),
            "--credentials-out", str(files["credentials"])]


@pytest.fixture(scope="module")
def onboarded(settings, files) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(_argv(files), settings=settings) == 0
    return out.getvalue()


def test_the_report_names_every_refused_line_and_what_the_county_lacks(onboarded):
    assert "导入单位：363 个（县（区） 1 个、乡镇（街道） 24 个、村（社区） 338 个）" in onboarded
    assert "工作人员：5 人" in onboarded and "拒绝：4 行" in onboarded
    assert "staff.csv 第 7 行：账号“Bad User”应为" in onboarded
    assert "staff.csv 第 8 行：账号 dcf.both 不能同时为审核人和决定人" in onboarded
    assert "staff.csv 第 9 行：账号 dcf.stranger 的单位代码 620602 不是 371502 单位树中的单位" in onboarded
    assert "staff.csv 第 10 行：账号 dcf.nobody 的角色“厨师”不认识" in onboarded
    assert "没有已发布的事项" in onboarded and "没有已发布的收费项目" in onboarded
    assert "没有登记国库（非税收入）账户" in onboarded and "行政审批专用章为占位" in onboarded
    assert "县级政务服务中心缺少以下角色的工作人员：收费员" in onboarded
    assert "本省（37）未配置事项编码规则" in onboarded


def test_the_tree_is_the_countys_and_the_demo_county_is_untouched(settings, onboarded):
    with owner_connection(settings.database_owner_url) as conn:
        kinds = dict(conn.execute(text("SELECT kind, count(*) FROM catalogue.units WHERE code LIKE '371502%'"
                                       " GROUP BY kind")).all())
        parent = conn.execute(text("SELECT parent_code FROM catalogue.units WHERE code = '371502001001'")).scalar()
        neighbour = conn.execute(text("SELECT count(*) FROM catalogue.units WHERE code LIKE '371503%'")).scalar()
        demo = conn.execute(text("SELECT name FROM catalogue.units WHERE code = '620602'")).scalar()
    assert kinds == {"county": 1, "township": 24, "village": 338} and parent == "371502001"
    assert neighbour == 0 and demo == "凉州区"


def test_the_staff_log_in_with_their_unit_and_roles(provider, onboarded, files):
    verifier = TokenVerifier(provider.url, "sanji", audience="sanji-platform")
    p = verifier.verify(login(provider.url, "dcf.reviewer", "pw-reviewer"))
    assert (str(p.tenant), set(p.roles), p.display_name) == (COUNTY, {"reviewer"}, "张审核")
    p = verifier.verify(login(provider.url, "dcf.clerk", "pw-clerk"))
    assert set(p.roles) == {"window_clerk"}                     # the Chinese role name was read
    # a line without a password got a random one, in the credentials sheet only this user reads
    sheet = {r["username"]: r for r in csv.DictReader(files["credentials"].open(encoding="utf-8"))}
    assert files["credentials"].stat().st_mode & 0o077 == 0
    assert sheet["gulou.decider"]["unit_code"] == "371502001" and len(sheet["gulou.decider"]["initial_password"]) >= 12
    p = verifier.verify(login(provider.url, "gulou.decider", sheet["gulou.decider"]["initial_password"]))
    assert str(p.tenant) == "371502001"
    for refused in ("dcf.both", "dcf.stranger", "bad user"):
        with pytest.raises(PermissionError):
            login(provider.url, refused, "anything")


def test_reviewers_and_deciders_sit_at_every_desk_and_units_with_a_decider_hold_a_placeholder_seal(settings,
                                                                                                    onboarded):
    db = Database.connect(settings.database_url, schema="approval", pool_size=1)
    try:
        with db.unit_of_work(tenant=COUNTY) as uow:
            categories = {r[0] for r in uow.rows("SELECT code FROM approval.categories")}
            desks = {}
            for user, desk in uow.rows("SELECT username, desk FROM approval.desks WHERE tenant_code = :c",
                                       {"c": COUNTY}):
                desks.setdefault(user, set()).add(desk)
            seal = uow.row("SELECT name, code FROM approval.seals WHERE tenant_code = :c", {"c": COUNTY})
            demo_desks = uow.value("SELECT count(*) FROM approval.desks WHERE tenant_code = '620602'")
        with db.unit_of_work(tenant="371502001") as uow:
            township_seal = uow.row("SELECT code FROM approval.seals WHERE tenant_code = '371502001'")
            county_seal_seen = uow.rows("SELECT code FROM approval.seals WHERE tenant_code = :c", {"c": COUNTY})
    finally:
        db.dispose()
    assert categories and desks == {"dcf.reviewer": categories, "dcf.decider": categories}
    assert seal == ("东昌府区行政审批专用章（占位，待登记）", "PENDING-371502")
    assert township_seal == ("PENDING-371502001",)
    assert demo_desks == 0 and county_seal_seen == []            # RLS: a unit sees its own back office only


def test_onboarding_again_changes_nothing_and_keeps_the_seal(settings, files, onboarded, capsys):
    assert main(_argv(files), settings=settings) == 0
    out = capsys.readouterr().out
    assert "新建/更新 {}" in out and "占位印章：0 个单位" in out


def test_a_county_the_areas_file_lacks_or_an_unreadable_staff_list_stops_with_a_reason(settings, files, capsys):
    argv = _argv(files)
    argv[1] = "371599"
    assert main(argv, settings=settings) == FAILED
    assert "areas.csv 中没有县（区）371599" in capsys.readouterr().err
    bad_staff = files["staff"].parent / "bad-staff.csv"
    bad_staff.write_text("账号,姓名\nx,y\n", encoding="utf-8")
    argv = _argv(files)
    argv[argv.index("--staff") + 1] = str(bad_staff)
    assert main(argv, settings=settings) == FAILED
    assert "表头缺少列 username、name、unit_code、roles" in capsys.readouterr().err


def test_the_identity_providers_admin_secret_comes_from_a_file_or_the_settings(settings, files, tmp_path, capsys):
    without = settings.model_copy(update={"idp_admin_client_secret": ""})
    assert main(_argv(files), settings=without) == FAILED
    assert "缺少统一身份认证管理员客户端密钥" in capsys.readouterr().err
    secret_file = tmp_path / "idp-admin-secret"
    secret_file.write_text(ADMIN_SECRET + "\n", encoding="utf-8")
    assert main([*_argv(files), "--idp-admin-secret-file", str(secret_file)], settings=without) == 0
    secret_file.write_text("wrong", encoding="utf-8")
    argv = _argv(files)
    argv[1] = "371503"                          # a county nothing else onboards: the refusal must come first
    assert main([*argv, "--idp-admin-secret-file", str(secret_file)], settings=without) == FAILED
    assert "拒绝了请求（HTTP 401）" in capsys.readouterr().err
    with owner_connection(settings.database_owner_url) as conn:
        assert conn.execute(text("SELECT count(*) FROM catalogue.units WHERE code LIKE '371503%'")).scalar() == 0
