"""The docking gateway's adapters to the platform services it calls over gRPC. Built at the composition root;
they take and give plain values (the handlers never build or read a message of another service's API)."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2, catalogue_pb2_grpc
from sanji.fees.v1 import fees_pb2, fees_pb2_grpc
from sanji.intake.v1 import intake_pb2, intake_pb2_grpc

from shared import errors
from shared.auth import ServiceCredentials
from shared.grpc.client import make_channel
from shared.tenancy import Principal


class FeesClient:
    """The fees service's payment callback (public, verified by the payment platform's own SM2 signature):
    the province's callbacks reach it through docking, under docking's signature and replay policy."""

    def __init__(self, target: str, *, timeout: float = 15.0):
        self._stub = fees_pb2_grpc.FeesServiceStub(make_channel(target))
        self._timeout = timeout

    def record_callback(self, fields: dict[str, str], signature: str) -> dict[str, Any]:
        r = self._stub.RecordPaymentCallback(fees_pb2.PaymentCallback(fields=fields, signature=signature),
                                             timeout=self._timeout)
        return {"status": r.outcome, "payment_id": r.payment_id, "notice_number": r.notice_number,
                "settled": r.settled}


class CatalogueClient:
    """The county's implementation items (ListMyItems) and a standard item taken in as a draft (CreateItem),
    with the calling admin's token (forwarded by the channel): the catalogue checks the same person."""

    def __init__(self, target: str, *, timeout: float = 15.0):
        self._stub = catalogue_pb2_grpc.CatalogueServiceStub(make_channel(target))
        self._timeout = timeout

    def implementation_items(self, principal: Principal) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._stub.ListMyItems(catalogue_pb2.ListMyItemsRequest(include_drafts=True, limit=200,
                                                                           offset=offset), timeout=self._timeout)
            for item in page.items:
                if item.tenant != str(principal.tenant):
                    continue            # delegated or proxy listings are another unit's implementation
                out.append({**json_format.MessageToDict(item.elements, preserving_proto_field_name=True),
                            "id": item.id})
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return out

    def public_item(self, item_id: str) -> dict[str, Any]:
        """An item as the public sees it (its current published version): the guide the portal shows.
        Raises grpc.RpcError when the catalogue cannot answer (the consumer tries the event again)."""
        item = self._stub.GetPublicItem(catalogue_pb2.GetPublicItemRequest(item_id=item_id), timeout=self._timeout)
        return {"id": item.id, "tenant": item.tenant, "version": item.version, "published_at": item.published_at,
                "change_reason": item.change_reason,
                "elements": json_format.MessageToDict(item.elements, preserving_proto_field_name=True)}

    def code_mappings(self, province: str, code_set: str) -> list[tuple[str, str]]:
        """A province's mapping table of one code set: (its code, the internal code) rows, empty when none."""
        r = self._stub.ListCodeMappings(catalogue_pb2.ListCodeMappingsRequest(province=province, code_set=code_set),
                                        timeout=self._timeout)
        return [(m.external_code, m.internal_code) for m in r.mappings]

    def import_draft(self, principal: Principal, standard: dict[str, Any]) -> str:
        # the standard says what; which department of the county implements it is the admin's to complete
        # before publishing (as with a county list imported from the provincial portal)
        draft = {"department": "（待确定实施部门）", **standard}
        elements = json_format.ParseDict(draft, catalogue_pb2.ItemElements(), ignore_unknown_fields=True)
        try:
            item = self._stub.CreateItem(catalogue_pb2.CreateItemRequest(elements=elements), timeout=self._timeout)
        except grpc.RpcError as exc:
            code = standard.get("basic_code", "")
            raise errors.FailedPrecondition(f"标准事项 {code} 导入为草稿失败：{exc.details()}",
                                            field="import_new_as_drafts") from None
        return item.id


class IntakeClient:
    """Intake's SubmitOnlineApplication with the docking gateway's own service credential (the only one the
    call carries: an online applicant has no login at the county)."""

    def __init__(self, target: str, *, service: ServiceCredentials, timeout: float = 15.0):
        self._stub = intake_pb2_grpc.IntakeServiceStub(make_channel(target, service=service))
        self._timeout = timeout

    def submit_online(self, *, tenant: str, unit: str, provincial_serial: str,
                      body: dict[str, Any]) -> tuple[str, str]:
        applicant = body.get("applicant") or {}
        application = intake_pb2.SubmitApplicationRequest(
            idempotency_key=f"province.{provincial_serial}", item_id=str(body.get("item_id", "")),
            scenario_code=str(body.get("scenario_code", "")), channel=int(body.get("channel", 2) or 2),
            applicant=json_format.ParseDict({k: str(v) for k, v in applicant.items()}, intake_pb2.Applicant(),
                                            ignore_unknown_fields=True),
            materials=[json_format.ParseDict(m, intake_pb2.MaterialSubmission(), ignore_unknown_fields=True)
                       for m in body.get("materials", []) or []],
            form={str(k): str(v) for k, v in (body.get("form") or {}).items()})
        r = self._stub.SubmitOnlineApplication(intake_pb2.SubmitOnlineApplicationRequest(
            application=application, handling_unit=unit, provincial_serial=provincial_serial),
            metadata=(), timeout=self._timeout)
        return r.id, r.tenant
