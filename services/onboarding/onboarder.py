"""The onboarding steps as the service runs them: infra/onboard/county.py's `onboard_uploads`, the very code of
`python -m infra.onboard` (the command is a thin entrypoint over it), with three differences of credentials only —
the county's tree, the back office and the readiness check go to their owners over gRPC on this service's own
credential (clients.py: catalogue's ImportCountyUnits, which writes the tree bound to the job's province under
catalogue 0007's policy; approval's SetUpUnitBackOffice; the owners' readiness), where the command may reach them
directly on a first install — this service reads and writes no table but its own — and the identity provider is
reached with this service's realm-admin client (SANJI_IDP_ADMIN_CLIENT_ID / _SECRET), which no other process holds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from infra.onboard.county import (
    BackOffice,
    OnboardingFailed,
    UnitsStore,
    credentials_sheet,
    onboard_uploads,
    read_files,
)
from infra.onboard.staff import read_staff
from services.onboarding.domain import Outcome, Upload
from shared import divisions
from shared.errors import InvalidArgument

log = logging.getLogger("sanji.onboarding")


def _pair(u: Upload) -> tuple[bytes, str]:
    return u.content, u.filename


class Owners(BackOffice, Protocol):
    """The owners' side of onboarding (clients.OwnersBackOffice): the back office, the readiness, and per job where
    the county's tree is written."""

    def units_for(self, province: str, county: str) -> UnitsStore: ...


class CountyOnboarder:
    def __init__(self, back_office: Owners, idp: Callable[[], Any]):
        self.back_office = back_office
        self.idp = idp                      # builds a python-keycloak KeycloakAdmin (a fresh token per job)

    def check(self, county: str, uploads: dict[str, Upload]) -> None:
        try:
            read_files(county, _pair(uploads["areas"]), _pair(uploads["streets"]), _pair(uploads["villages"]))
        except OnboardingFailed as exc:
            raise InvalidArgument("files", str(exc)) from None
        staff = uploads["staff"]
        try:
            read_staff(divisions.decode(staff.content, staff.filename), staff.filename, units=(), county=county)
        except divisions.UnreadableDivisions as exc:
            raise InvalidArgument("staff", str(exc)) from None

    def run(self, province: str, county: str, uploads: dict[str, Upload]) -> Outcome:
        from keycloak.exceptions import KeycloakError

        outcome = Outcome()
        try:
            result = onboard_uploads(
                county, areas=_pair(uploads["areas"]), streets=_pair(uploads["streets"]),
                villages=_pair(uploads["villages"]), staff=_pair(uploads["staff"]), idp=self.idp(),
                units=self.back_office.units_for(province, county), back_office=self.back_office,
                out=outcome.report.append)
        except OnboardingFailed as exc:
            outcome.error = f"上线中止：{exc}"
            return outcome
        except KeycloakError as exc:
            log.warning("identity provider refused onboarding of %s: %s", county, exc)
            outcome.error = (f"上线中止：统一身份认证拒绝了请求（HTTP {exc.response_code}）："
                             "请运维人员检查上线服务的管理员客户端密钥与 realm-admin 权限")
            return outcome
        if result.units is not None:
            outcome.units_imported = len(result.units.accepted)
            outcome.problems += [(p.source, p.line, p.message) for p in result.units.refused]
        if result.staff is not None:
            outcome.staff_provisioned = len(result.staff.users)
            outcome.problems += [(p.source, p.line, p.message) for p in result.staff.refused]
        outcome.lacks = list(result.lacks)
        issued = set(result.provisioned.passwords_set) if result.provisioned is not None else set()
        users = [u for u in (result.staff.users if result.staff else []) if u["username"] in issued]
        outcome.passwords_set = len(users)
        outcome.credentials = credentials_sheet(users) if users else None
        return outcome
