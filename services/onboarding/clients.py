"""The onboarding service's adapters to the owners of what a new county needs (issue 23): approval sets up a unit's
back office (desks, placeholder seal) and says whether it has a seal; fees and catalogue say what the county lacks
in their schemas. Each call carries only this service's own credential (client `sanji-onboarding`): the methods are
internal, callable by the onboarding service alone (shared/grpc/server.py: the registry of internal callers), and
the job that makes them runs for no person. Built at the composition root; they take and give plain values."""

from __future__ import annotations

from sanji.approval.v1 import approval_pb2, approval_pb2_grpc
from sanji.catalogue.v1 import catalogue_pb2, catalogue_pb2_grpc
from sanji.fees.v1 import fees_pb2, fees_pb2_grpc

from infra.onboard.county import Readiness
from shared import divisions
from shared.auth import ServiceCredentials
from shared.grpc.client import make_channel
from shared.tenancy import Role


class OwnersBackOffice:
    """infra.onboard.county.BackOffice (and, per job, its UnitsStore) through the owners' gRPC APIs."""

    def __init__(self, *, approval: str, fees: str, catalogue: str, service: ServiceCredentials,
                 timeout: float = 30.0):
        self._approval = approval_pb2_grpc.ApprovalServiceStub(make_channel(approval, service=service))
        self._fees = fees_pb2_grpc.FeesServiceStub(make_channel(fees, service=service))
        self._catalogue = catalogue_pb2_grpc.CatalogueServiceStub(make_channel(catalogue, service=service))
        self._timeout = timeout

    def units_for(self, province: str, county: str) -> CatalogueUnits:
        """Where a job's county tree is written (infra.onboard.county.UnitsStore)."""
        return CatalogueUnits(self._catalogue, province, county, timeout=self._timeout)

    def set_up(self, users: list[dict], unit_names: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
        by_unit: dict[str, list[approval_pb2.BackOfficeStaff]] = {}
        for u in users:
            roles = set(u["roles"])
            if {str(Role.REVIEWER), str(Role.DECIDER)} & roles:
                by_unit.setdefault(u["tenant"], []).append(approval_pb2.BackOfficeStaff(
                    username=u["username"], name=u["name"], decider=str(Role.DECIDER) in roles))
        desks: dict[str, list[str]] = {}
        seals: list[str] = []
        for unit, staff in sorted(by_unit.items()):
            r = self._approval.SetUpUnitBackOffice(approval_pb2.SetUpUnitBackOfficeRequest(
                unit=unit, unit_name=unit_names.get(unit, ""), staff=staff), timeout=self._timeout)
            desks.update({d.username: list(d.desks) for d in r.desks})
            if r.placeholder_seal_registered:
                seals.append(unit)
        return desks, seals

    def readiness(self, county: str) -> Readiness:
        catalogue = self._catalogue.GetCatalogueReadiness(catalogue_pb2.GetCatalogueReadinessRequest(unit=county),
                                                          timeout=self._timeout)
        fees = self._fees.GetFeesReadiness(fees_pb2.GetFeesReadinessRequest(unit=county), timeout=self._timeout)
        approval = self._approval.GetBackOfficeReadiness(approval_pb2.GetBackOfficeReadinessRequest(unit=county),
                                                         timeout=self._timeout)
        return Readiness(published_items=catalogue.published_items, code_format=catalogue.code_format,
                         published_fee_items=fees.published_fee_items, treasury_account=fees.treasury_account,
                         seal=approval.seal, placeholder_seal=approval.placeholder_seal)


class CatalogueUnits:
    """infra.onboard.county.UnitsStore through the catalogue's ImportCountyUnits: the county's tree written bound to
    the job's province (catalogue 0007's policy); the county's units as the catalogue answers after the write."""

    def __init__(self, stub: catalogue_pb2_grpc.CatalogueServiceStub, province: str, county: str, *,
                 timeout: float = 30.0):
        self._stub = stub
        self._province, self._county = province, county
        self._timeout = timeout
        self._trees: dict[str, dict[str, str]] = {}

    def write(self, lines: list[divisions.SourceLine]) -> divisions.UnitsReport:
        county = self._county
        r = self._stub.ImportCountyUnits(catalogue_pb2.ImportCountyUnitsRequest(
            province=self._province, county=county,
            lines=[catalogue_pb2.DivisionLine(source=x.source, line=x.line, code=x.code, name=x.name) for x in lines]),
            timeout=self._timeout)
        self._trees[county] = {u.code: u.name for u in r.county_units}
        return divisions.UnitsReport(
            accepted=[divisions.SourceLine(x.source, x.line, x.code, x.name) for x in r.accepted],
            refused=[divisions.LineProblem(x.source, x.line, x.message) for x in r.refused])

    def of_county(self, county: str) -> dict[str, str]:
        return self._trees.get(county, {})
