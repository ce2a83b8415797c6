"""`make run`: the whole platform on loopback with the demo county, until Ctrl-C (or `make stop`).

Steps: database and vhost (bootstrap), migrations, the tenant tree of 凉州区, the OIDC provider,
the services, the gateway, the demo catalogue; then it prints where to go and the demo logins.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from rich.console import Console
from rich.table import Table

from infra import migrate
from infra.demo.load import load_approval_setup, load_catalogue, load_demo_users, load_units
from infra.local import bootstrap
from infra.local.platform import ROOT, SERVICE_PORTS, Platform, stop_recorded
from services.fees.demo import load_demo_fees
from shared.config import PlatformSettings
from shared.tenancy import Role

RUN_DIR = ROOT / ".run"
console = Console()


def start() -> int:
    # `make run` is the development mode by definition: loopback, the repository's development credentials
    os.environ.setdefault("SANJI_MODE", "development")
    stale = stop_recorded(RUN_DIR)
    if stale:
        console.print(f"[yellow]stopped the previous run's processes: {', '.join(stale)}[/]")
    settings = PlatformSettings()
    with console.status("准备数据库与消息队列 …"):
        bootstrap.main(["--database", "sanji"])
        migrate.migrate_all(settings.database_owner_url)
        n_units = load_units(settings.database_owner_url)
        load_demo_fees(settings.database_owner_url)
    console.print(f"[green]✓[/] 数据库已就绪，导入单位 {n_units} 个（凉州区及其乡镇、村）")

    platform = Platform(run_dir=RUN_DIR, env={})
    (RUN_DIR / "logs").mkdir(parents=True, exist_ok=True)
    # the supervisor's word on a child that died, on the terminal and in .run/logs/runner.log (nothing else:
    # the children keep their own logs)
    supervisor_log = logging.getLogger("sanji.platform")
    supervisor_log.setLevel(logging.INFO)
    for handler in (logging.FileHandler(RUN_DIR / "logs" / "runner.log", encoding="utf-8"), logging.StreamHandler()):
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        supervisor_log.addHandler(handler)
    (RUN_DIR / "runner.pid").write_text(str(os.getpid()))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        with console.status("启动身份认证、各业务服务和网关 …"):
            platform.start_oidc()
            platform.start_province()          # the provincial platform simulator: `make run` is development mode
            platform.start_services()
            platform.start_gateway()
        console.print(f"[green]✓[/] 进程已启动：{'、'.join(platform.procs)}（日志在 .run/logs/）")
        platform.supervise()        # a process that dies is started again (logged in .run/logs/runner.log)
        users = load_demo_users()
        with console.status("载入演示事项目录 …"):
            summary = load_catalogue(platform.catalogue_target, platform.oidc_url, users)
        console.print(f"[green]✓[/] 演示事项 {summary['total']} 个"
                      f"（新建 {summary['created']}，已存在 {summary['skipped']}）")
        with console.status("配置审批岗位与行政审批专用章 …"):
            setup = load_approval_setup(platform.target("approval"), platform.oidc_url, users)
        console.print(f"[green]✓[/] 审批岗位 {setup['desks']} 人次，新登记印章 {setup['seals']} 枚")
        print_welcome(platform, users)
        stopping.wait()
    finally:
        console.print("正在停止 …")
        platform.stop()
        (RUN_DIR / "pids").unlink(missing_ok=True)
        (RUN_DIR / "runner.pid").unlink(missing_ok=True)
    return 0


def print_welcome(platform: Platform, users: list[dict]) -> None:
    console.rule("sanji 县乡村三级政务服务平台 · 演示：甘肃省武威市凉州区")
    console.print(f"公众办事指南查询： {platform.gateway_url}/")
    console.print(f"工作人员工作台：   {platform.gateway_url}/console")
    console.print(f"REST API 文档：     {platform.gateway_url}/docs  （OpenAPI：{platform.gateway_url}/openapi.json）")
    console.print(f"统一身份认证：     {platform.oidc_url}/realms/sanji/.well-known/openid-configuration")
    console.print(f"省级平台（模拟）： {platform.province_url}（办件信息上报、标准事项目录、回执记录；省平台对接 gRPC"
                  f" {platform.target('docking')}）")
    grpc_targets = "、".join(f"{name} {platform.target(name)}" for name in SERVICE_PORTS if name in platform.procs)
    console.print(f"各服务 gRPC：      {grpc_targets}（支持反射与健康检查）")
    console.print(f"公开页面：         办件进度 {platform.gateway_url}/progress · 收费目录 {platform.gateway_url}/fees"
                  f" · 吐槽找茬 {platform.gateway_url}/complaints/new")
    table = Table(title="演示账号（密码均为下表所列）")
    # the username and password are copied from here: never cut or wrapped (the unit and roles wrap instead)
    for col in ("用户名", "密码", "姓名", "单位", "角色"):
        table.add_column(col, no_wrap=col in ("用户名", "密码", "姓名"), overflow="fold")
    for u in users:
        roles = "、".join(Role(r).label if r in Role._value2member_map_ else r for r in u["roles"])
        table.add_row(u["username"], u["password"], u["name"], f"{u.get('tenant_name', '')}（{u['tenant']}）", roles)
    console.print(table)
    console.print("再上线一个县（区）（全国区划文件与工作人员名单，一条命令；见 README）：")
    console.print(f"  SANJI_MODE=development .venv/bin/python -m infra.onboard --idp-admin-secret-file "
                  f"{platform.run_dir / 'idp-admin-secret'} --county 371502 --areas areas.csv --streets streets.csv"
                  " --villages villages.csv --staff staff.csv")
    console.print(f"  或以 province.admin 登录工作台 → 县区上线（{platform.gateway_url}/console/onboarding）")
    console.print("按 Ctrl-C 或在另一个终端执行 make stop 停止。")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stop", action="store_true", help="stop the processes of a running `make run`")
    args = ap.parse_args(argv)
    if args.stop:
        stopped = stop_recorded(RUN_DIR)
        print(f"已停止：{'、'.join(stopped)}" if stopped else "没有正在运行的 make run")
        return 0
    return start()


if __name__ == "__main__":
    sys.exit(main())
