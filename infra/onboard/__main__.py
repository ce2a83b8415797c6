"""python -m infra.onboard — a county onto a running platform in one command (issue 23, item 2).

    python -m infra.onboard --county 371502 \\
        --areas areas.csv --streets streets.csv --villages villages.csv \\
        --staff staff.csv --credentials-out initial-passwords.csv

The division files are the national ones as published (the whole country's villages file will do: only
the county's rows are taken); the staff list is `username,name,unit_code,roles[,email,password]`. The
identity provider is reached at SANJI_OIDC_SERVER_URL (realm SANJI_OIDC_REALM) with an administrator's
client credentials (SANJI_IDP_ADMIN_CLIENT_ID, and SANJI_IDP_ADMIN_CLIENT_SECRET or --idp-admin-secret-file):
a Keycloak client with realm-management's realm-admin role, or the loopback provider's admin client under
`make run` (its secret in .run/idp-admin-secret).
Exit 0 when the county is on (what it still lacks is listed), 2 when a step cannot go on.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import ClassVar

from infra.onboard.county import OnboardingFailed, credentials_sheet, onboard
from shared.config import DatabaseToolSettings

FAILED = 2


class OnboardSettings(DatabaseToolSettings):
    """The owner's database URL (units are reference data), the application role's (the county's own data,
    under RLS), and the identity provider's administrator client."""

    SECRETS: ClassVar[tuple[str, ...]] = ("database_url", "database_owner_url")
    idp_admin_client_id: str = "sanji-admin"
    idp_admin_client_secret: str = ""


def main(argv: list[str] | None = None, settings: OnboardSettings | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m infra.onboard", description="一条命令上线一个县（区）")
    ap.add_argument("--county", required=True, help="6 位县（区）区划代码，如 371502")
    ap.add_argument("--areas", type=Path, required=True, help="全国区划文件 areas.csv（县级）")
    ap.add_argument("--streets", type=Path, required=True, help="全国区划文件 streets.csv（乡级）")
    ap.add_argument("--villages", type=Path, required=True, help="村级区划文件（全国或本县）")
    ap.add_argument("--staff", type=Path, required=True, help="工作人员名单 username,name,unit_code,roles")
    ap.add_argument("--credentials-out", type=Path, help="初始密码表（仅本用户可读）")
    ap.add_argument("--idp-admin-secret-file", type=Path,
                    help="统一身份认证管理员客户端密钥文件（或 SANJI_IDP_ADMIN_CLIENT_SECRET）")
    args = ap.parse_args(argv)
    settings = settings or OnboardSettings()
    secret = settings.idp_admin_client_secret
    if args.idp_admin_secret_file:
        try:
            secret = args.idp_admin_secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            print(f"无法读取 {args.idp_admin_secret_file}：{exc.strerror or exc}", file=sys.stderr)
            return FAILED
    if not secret:
        print("缺少统一身份认证管理员客户端密钥：--idp-admin-secret-file 或 SANJI_IDP_ADMIN_CLIENT_SECRET",
              file=sys.stderr)
        return FAILED

    from keycloak import KeycloakAdmin  # composition root: built here, never at import time
    from keycloak.exceptions import KeycloakError

    idp = KeycloakAdmin(server_url=settings.oidc_server_url, realm_name=settings.oidc_realm,
                        client_id=settings.idp_admin_client_id, client_secret_key=secret)
    try:
        result = onboard(settings, args.county, areas=args.areas, streets=args.streets, villages=args.villages,
                         staff=args.staff, idp=idp)
    except OnboardingFailed as exc:
        print(f"上线中止：{exc}", file=sys.stderr)
        return FAILED
    except KeycloakError as exc:
        print(f"上线中止：统一身份认证（{settings.oidc_server_url}）拒绝了请求（HTTP {exc.response_code}）："
              f"请检查管理员客户端 {settings.idp_admin_client_id} 的密钥与 realm-admin 权限", file=sys.stderr)
        return FAILED
    if args.credentials_out and result.staff is not None:
        # only the passwords this run set: a second run leaves existing staff's passwords alone, and a sheet
        # listing new random ones for them would not let them log in
        issued = set(result.provisioned.passwords_set) if result.provisioned is not None else set()
        users = [u for u in result.staff.users if u["username"] in issued]
        if users:
            fd = os.open(args.credentials_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(credentials_sheet(users))
            print(f"初始密码表：{args.credentials_out}（{len(users)} 人，请分发后删除）")
        else:
            print("初始密码表：本次未设置任何人的密码（人员均已存在），未写出")
    return 0


if __name__ == "__main__":
    sys.exit(main())
