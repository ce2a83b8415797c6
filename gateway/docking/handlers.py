"""Use cases of the docking gateway (省平台对接). Each owns its unit of work.

- `receive`: a message from the province — shape, route, the province's SM2 signature, timestamp ±5 min,
  nonce never seen, idempotent by message id; logged in the county's SM3 chain; then acted on (an online
  application forwarded to intake, a payment callback to fees).
- `enqueue`: a platform event (consumer) becomes a report for the province in the docking outbox.
- `deliver_due`: the delivery worker's pass — per county, per case in the case's order (its lifecycle stage,
  its event's time: not the order docking consumed the events in) after a short settle time, signed, retried
  with backoff;
  a report counts as delivered only on the province's signed receipt.
- `backlog`, `verify_log`, `compare_catalogue`, `reconcile`: for supervision staff and the county's admin.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.docking import documents, domain, envelope
from gateway.docking.domain import Refusal
from gateway.docking.province import ProvinceClient, ProvinceUnavailable
from gateway.docking.repository import DockingRepository
from shared import hashchain
from shared.db import Database
from shared.errors import FailedPrecondition, InvalidArgument
from shared.messaging import Envelope
from shared.sm2 import Signer, Verifier, sm3_hex
from shared.tenancy import Principal, Role

log = logging.getLogger("sanji.docking")

# message ids of reports derive from the event's id: a redelivered event makes the same report
REPORT_NAMESPACE = uuid.UUID("6f1c7a52-3d0b-4c55-9a51-5a6e2f1d0c18")


class OnlineIntake(Protocol):
    """Intake, as the docking gateway needs it: an online application taken in at the addressed unit — its
    (application id, the tenant that decides on it: another than the addressed unit when that unit collects it on
    a higher level's behalf, 委托收件/代收)."""

    def submit_online(self, *, tenant: str, unit: str, provincial_serial: str,
                      body: dict[str, Any]) -> tuple[str, str]: ...


class PaymentCallbacks(Protocol):
    def record_callback(self, fields: dict[str, str], signature: str) -> dict[str, Any]: ...


class CountyCatalogue(Protocol):
    def implementation_items(self, principal: Principal) -> list[dict[str, Any]]: ...
    def import_draft(self, principal: Principal, standard: dict[str, Any]) -> str: ...
    def public_item(self, item_id: str) -> dict[str, Any]: ...
    def code_mappings(self, province: str, code_set: str) -> list[tuple[str, str]]: ...


@dataclass
class Received:
    message_id: str
    duplicate: bool
    reference: str = ""
    receipt: dict[str, Any] = field(default_factory=dict)


@dataclass
class Delivery:
    delivered: int = 0
    failed: int = 0


class DockingHandlers:
    def __init__(self, db: Database, *, signer: Signer, province_keys: dict[str, str], events_out: Any,
                 province: ProvinceClient | None = None, intake: OnlineIntake | None = None,
                 fees: PaymentCallbacks | None = None, catalogue: CountyCatalogue | None = None,
                 backoff_first: dt.timedelta = domain.BACKOFF_FIRST,
                 backoff_max: dt.timedelta = domain.BACKOFF_MAX, batch: int = 200, code_ttl: float = 60.0,
                 refusals_per_minute: int = 60, settle: dt.timedelta = domain.SETTLE):
        self.db = db
        self.events_out = events_out
        self.signer = signer
        self.head_signer = hashchain.HeadSigner(signer.private_key, signer.public_key)
        self.verifiers = {code: Verifier(key) for code, key in province_keys.items()}
        self.province = province
        self.intake = intake
        self.fees = fees
        self.catalogue = catalogue
        self.backoff_first, self.backoff_max, self.batch = backoff_first, backoff_max, batch
        # how long a case's next report waits after it was queued before it is sent (domain.SETTLE)
        self.settle = settle
        self.code_ttl = code_ttl
        self.refusals_per_minute = refusals_per_minute
        self._codes: dict[str, tuple[float, dict[str, str]]] = {}

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    # -- inbound ---------------------------------------------------------------------------------------
    def receive(self, raw: str) -> Received:
        msg: Any = None
        try:
            try:
                msg = json.loads(raw)
            except (TypeError, ValueError):
                raise Refusal("malformed", "报文不是有效的 JSON") from None
            domain.check_inbound_shape(msg)
            verifier = self.verifiers.get(domain.province_of_sender(msg["sender"]))
            if verifier is None:
                raise Refusal("unknown_key", "未配置该省级平台的公钥")
            if not envelope.signature_ok(verifier, msg):
                raise Refusal("signature", "报文签名验证失败")
            at = domain.check_fresh(msg["timestamp"], self.now())
            return self._accept(msg, at)
        except Refusal as refusal:
            self._refuse(refusal, msg if isinstance(msg, dict) else {}, raw)
            raise domain.refusal_error(refusal) from None

    def _refuse(self, refusal: Refusal, msg: dict[str, Any], raw: str) -> None:
        """Every refusal is counted per minute; at most `refusals_per_minute` of a minute are stored (reason,
        claimed ids, hash and length — never the content), the rest only counted, so a flood of messages that
        need no key costs a bounded amount of storage (as fees' refused callbacks)."""
        data = (raw or "").encode("utf-8", "replace")
        minute = self.now().replace(second=0, microsecond=0)
        cap = self.refusals_per_minute
        with self.db.unit_of_work() as uow:
            repo = DockingRepository(uow)
            seen = repo.count_refusal(minute)
            if seen <= cap:
                repo.refuse(refusal.reason, str(msg.get("sender", "")), str(msg.get("tenant", "")),
                            str(msg.get("message_id", "")), sm3_hex(data), len(data), minute)
            uow.commit()
        if seen <= cap:
            log.warning("province message refused: %s (sender %r, tenant %r)", refusal.reason,
                        str(msg.get("sender", ""))[:64], str(msg.get("tenant", ""))[:16])
        elif seen == cap + 1:
            log.warning("province messages refused: %d this minute; from now on this minute they are counted,"
                        " not stored", seen)

    def _accept(self, msg: dict[str, Any], sent_at: dt.datetime) -> Received:
        tenant, message_id = msg["tenant"], msg["message_id"]
        with self.db.unit_of_work(tenant=tenant) as uow:
            repo = DockingRepository(uow)
            if not repo.take_nonce(msg["sender"], msg["nonce"]):
                raise Refusal("replay", "报文随机数（nonce）已使用过，疑似重放")
            before = repo.logged(tenant, "in", message_id)
            if before is not None:
                uow.commit()                      # the nonce is spent; nothing else happens again
                return Received(message_id, True, before.get("reference", ""), self._receipt(msg, True))
            serial = ""
            if msg["type"] == domain.InboundType.ONLINE_APPLICATION:
                serial, unit, item = self._check_application(msg)
                repo.record_online(tenant, serial, message_id, unit, item)
            repo.log(tenant, "in", self._log_entry(msg), self.now())
            uow.commit()
        reference = ""
        if msg["type"] == domain.InboundType.ONLINE_APPLICATION:
            reference = self._forward_application(msg, serial)
        elif msg["type"] == domain.InboundType.PAYMENT_CALLBACK:
            reference = self._forward_payment(msg)
        return Received(message_id, False, reference, self._receipt(msg, False))

    @staticmethod
    def _log_entry(msg: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"message_id": msg["message_id"], "type": msg["type"], "sender": msg["sender"],
                "receiver": msg["receiver"], "case_ref": msg.get("case_ref", ""), "timestamp": msg["timestamp"],
                "nonce": msg["nonce"], "key_id": msg["key_id"], "signature": msg["signature"],
                "hash": envelope.body_hash(msg), **extra}

    def _receipt(self, msg: dict[str, Any], duplicate: bool) -> dict[str, Any]:
        return envelope.seal(self.signer, type="receipt", sender=f"county:{msg['tenant']}", receiver=msg["sender"],
                             tenant=msg["tenant"], case_ref=msg.get("case_ref", ""),
                             body={"message_id": msg["message_id"], "duplicate": duplicate})

    @staticmethod
    def _check_application(msg: dict[str, Any]) -> tuple[str, str, str]:
        body = msg["body"]
        serial = str(body.get("provincial_serial", "")).strip()
        unit = str(body.get("unit", "")).strip()
        item = str(body.get("item_id", "")).strip()
        if not serial or len(serial) > 64:
            raise Refusal("malformed", "网上申请缺少省级办件流水号（provincial_serial）")
        if not domain.DIVISION.match(unit) or not unit.startswith(msg["tenant"]):
            # a province message for one county cannot reach another county's units
            raise Refusal("tenant", "受理单位不属于报文所指的县")
        if not item:
            raise Refusal("malformed", "网上申请缺少事项标识（item_id）")
        return serial, unit, item

    def _forward_application(self, msg: dict[str, Any], serial: str) -> str:
        tenant = msg["tenant"]
        if self.intake is None:
            return ""
        unit = msg["body"]["unit"]
        try:
            application_id, owner = self.intake.submit_online(tenant=tenant, unit=unit, provincial_serial=serial,
                                                              body=msg["body"])
            error = ""
        except Exception as exc:  # noqa: BLE001 — intake's refusal is recorded and reported, never lost
            details = getattr(exc, "details", None)
            application_id, owner, error = "", "", (details() if callable(details) else "") or str(exc)
            log.warning("online application %s not taken by intake: %s", serial, error)
        if application_id and owner and owner != unit:
            self._record_collected(owner, application_id, unit, serial)
        with self.db.unit_of_work(tenant=tenant) as uow:
            repo = DockingRepository(uow)
            repo.forwarded(tenant, serial, application_id, error)
            if application_id and owner and owner != unit:
                # 委托收件: the addressed window took it in on another unit's behalf (e.g. the province's item
                # entrusted to the county's comprehensive window) — the portal is told where it went
                at = self.now()
                repo.enqueue(uuid.uuid5(REPORT_NAMESPACE, f"forwarded:{msg['message_id']}"), tenant, serial,
                             "application_forwarded",
                             {"event": "application_forwarded", "provincial_serial": serial,
                              "application_id": application_id, "progress_code": "",
                              "unit": unit, "taken_in_by": unit, "forwarded_to": owner,
                              "at": at.isoformat()},
                             domain.report_stage("application_forwarded"), at)
            if not application_id:
                # the portal hears of it like of any decision (the report carries the province's serial)
                repo.enqueue(uuid.uuid5(REPORT_NAMESPACE, f"forward-failed:{msg['message_id']}"), tenant, serial,
                             "application_not_taken", {"event": "application_not_taken", "provincial_serial": serial,
                                                       "reason": error[:500], "progress_code": "4",
                                                       "unit": msg["body"].get("unit", "")},
                             domain.report_stage("application_not_taken"), self.now())
            uow.commit()
        return application_id

    def _record_collected(self, owner: str, application_id: str, window: str, serial: str) -> None:
        """委托收件: the case is the deciding unit's (`owner`, e.g. the province); its later events come bound to it.
        Noted under that unit, so they are reported under the window's county with the province's serial."""
        if not (window.startswith(owner) and len(window) > len(owner)):
            log.warning("application %s collected by %s for %s, a unit not above it: not noted", application_id,
                        window, owner)
            return
        with self.db.unit_of_work(tenant=owner) as uow:
            DockingRepository(uow).record_collected(owner, application_id, window, serial)
            uow.commit()

    def _forward_payment(self, msg: dict[str, Any]) -> str:
        body = msg["body"]
        fields, signature = body.get("fields"), body.get("signature", "")
        if self.fees is None or not isinstance(fields, dict):
            return ""
        result = self.fees.record_callback({str(k): str(v) for k, v in fields.items()}, str(signature))
        return str(result.get("status", "")) if isinstance(result, dict) else str(result)

    # -- outbound --------------------------------------------------------------------------------------
    def enqueue(self, env: Envelope, uow, body: dict[str, Any]) -> bool:
        """A platform event (in the consumer's unit of work, bound to its tenant) becomes a report.

        委托收件: a case taken in by a window below its unit (a provincial application collected by the county's
        window) is reported under the county of that window, with the province's serial — the window named by
        the event (`collect_tenant`; an event without it, from before the field or from a service that does
        not carry it, is looked up among the cases docking forwarded). An online case's reports are ordered
        under its provincial serial from its first report (forwarded, accepted, …, completed; one queued under its
        case number before docking could know the serial joins them); a window's case under its case number (or
        application id before it has one)."""
        tenant = env.tenant
        application_id, case_number = str(body.get("application_id", "")), str(body.get("case_number", ""))
        repo = DockingRepository(uow)
        window, serial = self._collected(repo, tenant, str(body.get("collect_tenant") or ""), application_id,
                                         case_number)
        # the county talks to the province: a township's (a village's) report is its county's, like a case a
        # county window collected for the province
        files_under = window[:6] if window and window[:6] != tenant[:6] else tenant[:6]
        if len(tenant) > 6:
            repo.file_under_county()
        if not serial and files_under == tenant[:6]:
            serial = repo.serial_of(files_under, application_id, case_number)
        key = serial or domain.case_key(body, env.correlation_id)
        if files_under != tenant[:6]:
            repo.file_under(files_under)
        if application_id and not case_number and not serial:
            # an event of the application without its case number (补正) consumed after the acceptance gave it one:
            # it joins the case's reports (below: an acceptance consumed after it moves it there)
            key = repo.case_key_of_application(files_under, application_id) or key
        at = self._event_time(body, env)
        report = {"event": env.event_type,
                  "progress_code": domain.progress_code(env.event_type, self.progress_codes(tenant[:2])),
                  "case_number": case_number, "application_id": application_id,
                  "provincial_serial": serial, "unit": tenant, "at": at,
                  "detail": body}
        if window:
            report["collected_by"] = window
        if application_id and case_number:
            # the event that ties the case number to the application (the acceptance, the hand-out): an event of
            # the case consumed before it was queued under another key — 补正 under the application id (it had
            # no case number yet), approval's decision of an online case under the case number (docking did not
            # know the serial yet) — and joins the case's reports under this key, so the case has one order
            repo.rekey(files_under, [k for k in (application_id, case_number) if k != key], key, serial)
        # its place in the case: its lifecycle stage and its event's own time (domain.send_order)
        return repo.enqueue(uuid.uuid5(REPORT_NAMESPACE, env.event_id), files_under, key, env.event_type, report,
                            domain.report_stage(env.event_type), domain.event_time(at, self._sent_at(env)))

    @staticmethod
    def _collected(repo: DockingRepository, tenant: str, named: str, application_id: str,
                   case_number: str) -> tuple[str, str]:
        """(the window that collected the case for `tenant`, the provincial serial docking noted for it), or
        ("", "") for a case its own unit took in. A window named outside the unit's subtree is no collector."""
        if named and not (named.startswith(tenant) and len(named) > len(tenant)):
            log.warning("event of %s names collecting window %s outside its unit: reported as not collected",
                        tenant, named)
            named = ""
        if not named and len(tenant) >= 6:
            return "", ""          # a county's or township's own case: nothing was noted above it
        found = repo.collected(tenant, application_id, case_number)
        if found is None:
            return named, ""
        return named or str(found["collect_tenant"]), str(found["provincial_serial"])

    def progress_codes(self, province: str) -> dict[str, str]:
        """The province's progress codes (internal → its own), from the catalogue's code-mapping tables, kept
        `code_ttl` seconds; no catalogue, or no table for the province: {} (the domain's documented default).
        A catalogue that cannot answer raises: the consumer tries the event again rather than send a guess."""
        if self.catalogue is None:
            return {}
        kept = self._codes.get(province)
        if kept is not None and time.monotonic() - kept[0] < self.code_ttl:
            return kept[1]
        codes = domain.province_progress_codes(self.catalogue.code_mappings(province, domain.PROGRESS_CODE_SET))
        self._codes[province] = (time.monotonic(), codes)
        return codes

    def enqueue_guide(self, env: Envelope, uow, body: dict[str, Any]) -> bool:
        """A published or adjusted item (consumer, in its unit of work): its guide and 容缺 list, as the catalogue
        shows them to the public now, queued for the provincial portal — per item in order, like a case's
        reports. An item above the county (a city's or the province's own) is not the county's to push."""
        tenant = env.tenant
        if len(tenant) < 6 or self.catalogue is None:
            log.info("guide of %s not pushed: unit %s is above the county or no catalogue", body.get("item_id"),
                     tenant)
            return False
        guide = domain.guide_of(self.catalogue.public_item(str(body.get("item_id", ""))))
        report = {"event": env.event_type, "progress_code": "", "item_id": guide["item_id"],
                  "unit": tenant, "at": str(body.get("published_at") or self._event_time(body, env)),
                  "event_version": int(body.get("version", 0) or 0), **guide}
        return DockingRepository(uow).enqueue(uuid.uuid5(REPORT_NAMESPACE, env.event_id), tenant,
                                              f"item:{guide['item_id']}", env.event_type, report,
                                              domain.report_stage(env.event_type),
                                              domain.event_time(report["at"], self._sent_at(env)))

    @staticmethod
    def _event_time(body: dict[str, Any], env: Envelope) -> str:
        for name in ("at", "accepted_at", "rejected_at", "requested_at", "picked_up_at", "decided_at"):
            if body.get(name):
                return str(body[name])
        return DockingHandlers._sent_at(env).isoformat()

    @staticmethod
    def _sent_at(env: Envelope) -> dt.datetime:
        """When the event left its service (the envelope's timestamp, whole seconds)."""
        return dt.datetime.fromtimestamp(env.timestamp, dt.UTC)

    def deliver_due(self) -> Delivery:
        """One pass of the delivery worker over every county with reports due."""
        out = Delivery()
        if self.province is None:
            return out
        now = self.now()
        with self.db.unit_of_work(tenant="00") as uow:
            tenants = DockingRepository(uow).tenants_due(now)
            uow.commit()
        for tenant in tenants:
            self._deliver_tenant(tenant, out)
        return out

    def _deliver_tenant(self, tenant: str, out: Delivery) -> None:
        county = tenant[:6]
        with self.db.unit_of_work(tenant=tenant) as uow:
            repo = DockingRepository(uow)
            heads = repo.due_heads(tenant, self.now(), self.batch, self.settle)
            for row in heads:
                msg = envelope.seal(self.signer, type=domain.envelope_type(row["type"]), sender=f"county:{county}",
                                    receiver=f"province:{county[:2]}", tenant=county, case_ref=row["case_key"],
                                    body=row["body"], message_id=row["message_id"])
                try:
                    receipt = self.province.post_report(msg)
                    self._check_receipt(receipt, msg)
                except (ProvinceUnavailable, Refusal) as exc:
                    out.failed += 1
                    retry = domain.next_attempt(row["attempts"] + 1, self.now(), self.backoff_first, self.backoff_max)
                    repo.failed(row["seq"], str(exc), retry)
                    # a province that is down is down for every case: stop this pass, keep the order
                    if isinstance(exc, ProvinceUnavailable):
                        break
                    continue
                at = self.now()
                repo.delivered(row["seq"], at)
                repo.log(tenant, "out", self._log_entry(msg), at)
                uow.emit(self.events_out.case_reported(tenant, row, at.isoformat()), correlation_id=row["case_key"])
                out.delivered += 1
            uow.commit()

    def _check_receipt(self, receipt: dict[str, Any], sent: dict[str, Any]) -> None:
        """The province's answer is a receipt it signed, naming the message we sent, fresh."""
        verifier = self.verifiers.get(sent["tenant"][:2])
        if verifier is None or not isinstance(receipt, dict) or receipt.get("type") != "receipt":
            raise Refusal("receipt", "省级平台回执无效")
        if not envelope.signature_ok(verifier, receipt):
            raise Refusal("receipt", "省级平台回执签名验证失败")
        domain.check_fresh(str(receipt.get("timestamp", "")), self.now())
        if (receipt.get("body") or {}).get("message_id") != sent["message_id"]:
            raise Refusal("receipt", "省级平台回执所指报文不符")

    def housekeeping(self) -> None:
        """Nonces older than the freshness window can go (a message that old is refused on its timestamp)."""
        with self.db.unit_of_work() as uow:
            DockingRepository(uow).forget_nonces_before(self.now() - 2 * domain.CLOCK_WINDOW)
            uow.commit()

    # -- supervision and the county's admin --------------------------------------------------------------
    def backlog(self, p: Principal) -> tuple[int, int, list[dict[str, Any]]]:
        p.require(Role.SUPERVISOR)
        with self.db.unit_of_work(p) as uow:
            rows = DockingRepository(uow).backlog(self.now())
            uow.commit()
        pending = sum(int(r["pending"]) for r in rows)
        oldest = max((int(r["oldest_age_seconds"] or 0) for r in rows), default=0)
        return pending, oldest, rows

    def verify_log(self, p: Principal) -> hashchain.Verdict:
        p.require(Role.SUPERVISOR, Role.TENANT_ADMIN)
        tenant = str(p.tenant)
        if len(tenant) != 6:
            raise FailedPrecondition("省平台报文日志按县记录，请以县级单位身份核验", field="tenant")
        with self.db.unit_of_work(p, subtree=False) as uow:
            verdict = DockingRepository(uow).verify_log(tenant, {self.head_signer.key_id: self.signer.public_key})
            uow.commit()
        return verdict

    def daily(self, day: dt.date | None = None) -> dict[str, int]:
        """The daily run (the delivery worker starts it once a day): for every county that delivered reports on
        `day` (yesterday, China time, by default), reconcile that day with the province and sign the message
        log's finished days. County → mismatches found."""
        the_day = day or hashchain.local_day(self.now()) - dt.timedelta(days=1)
        start = dt.datetime.combine(the_day, dt.time(), domain.CHINA)
        with self.db.unit_of_work(tenant="00") as uow:
            counties = DockingRepository(uow).tenants_delivered(start, start + dt.timedelta(days=1))
            uow.commit()
        out = {}
        for county in counties:
            result = self._reconcile(county, the_day)
            self.seal_log_days(county)
            out[county] = sum(1 for t in result.types if not t.matches)
        return out

    def seal_log_days(self, tenant: str) -> int:
        """Sign the heads of the county's finished days (China time)."""
        now = self.now()
        with self.db.unit_of_work(tenant=tenant) as uow:
            n = DockingRepository(uow).seal_log(tenant, self.head_signer, hashchain.local_day(now), now)
            uow.commit()
        return n

    def reconcile(self, p: Principal, day: str) -> domain.Reconciliation:
        """Counts and hashes per message type of the reports the province acknowledged on `day` (China time),
        against its receipt log; every report it has no receipt of is sent again; the report is kept (CSV)."""
        p.require(Role.SUPERVISOR, Role.TENANT_ADMIN)
        tenant = str(p.tenant)
        if len(tenant) != 6:
            raise FailedPrecondition("对账按县进行，请以县级单位身份操作", field="tenant")
        try:
            the_day = dt.date.fromisoformat(day) if day else hashchain.local_day(self.now()) - dt.timedelta(days=1)
        except ValueError:
            raise InvalidArgument("day", "日期格式应为 YYYY-MM-DD") from None
        return self._reconcile(tenant, the_day)

    def _reconcile(self, tenant: str, the_day: dt.date) -> domain.Reconciliation:
        if self.province is None:
            raise FailedPrecondition("未配置省级平台地址")
        start = dt.datetime.combine(the_day, dt.time(), domain.CHINA)
        end = start + dt.timedelta(days=1)
        theirs = self._receipts(tenant, the_day)
        with self.db.unit_of_work(tenant=tenant) as uow:
            repo = DockingRepository(uow)
            ours = repo.delivered_on(tenant, start, end)
            result = domain.reconcile(the_day.isoformat(), tenant, ours, theirs,
                                      lambda ids: sm3_hex("\n".join(ids).encode()))
            result.resent = repo.resend(tenant, result.missing_at_province, self.now())
            mismatches = sum(1 for t in result.types if not t.matches)
            result.pdf = documents.reconciliation_pdf(result)
            repo.keep_reconciliation(tenant, the_day, mismatches, result.resent, self.csv(result), result.pdf)
            uow.commit()
        return result

    def _receipts(self, tenant: str, day: dt.date) -> dict[str, str]:
        assert self.province is not None
        query = envelope.seal(self.signer, type="receipt_query", sender=f"county:{tenant}",
                              receiver=f"province:{tenant[:2]}", tenant=tenant, body={"day": day.isoformat()})
        try:
            answer = self.province.fetch("/api/receipts", query)
        except ProvinceUnavailable as exc:
            raise FailedPrecondition(f"省级平台暂不可用，无法取得回执记录：{exc}") from None
        verifier = self.verifiers.get(tenant[:2])
        if verifier is None or not envelope.signature_ok(verifier, answer) or answer.get("tenant") != tenant:
            raise FailedPrecondition("省级平台回执记录签名验证失败")
        return {str(r["message_id"]): str(r["type"]) for r in (answer.get("body") or {}).get("receipts", [])}

    @staticmethod
    def csv(result: domain.Reconciliation) -> str:
        buf = io.StringIO()
        csv.writer(buf).writerows(result.csv_rows())
        return buf.getvalue()

    def compare_catalogue(self, p: Principal, import_new: bool) -> tuple[str, list[domain.ItemComparison]]:
        """The province's standard items against this county's implementation items; the differences in the
        elements the province holds the same, for the county's admin. New standard items arrive as drafts."""
        p.require(Role.TENANT_ADMIN)
        tenant = str(p.tenant)
        if len(tenant) != 6:
            raise FailedPrecondition("事项目录比对以县为单位，请以县级单位管理员身份操作", field="tenant")
        if self.province is None or self.catalogue is None:
            raise FailedPrecondition("未配置省级平台或事项目录服务")
        query = envelope.seal(self.signer, type="catalogue_query", sender=f"county:{tenant}",
                              receiver=f"province:{tenant[:2]}", tenant=tenant, body={})
        try:
            answer = self.province.fetch("/api/catalogue", query)
        except ProvinceUnavailable as exc:
            raise FailedPrecondition(f"省级平台暂不可用，无法取得标准事项目录：{exc}") from None
        verifier = self.verifiers.get(tenant[:2])
        if verifier is None or not envelope.signature_ok(verifier, answer):
            raise FailedPrecondition("省级平台标准事项目录签名验证失败")
        standard = list((answer.get("body") or {}).get("items", []))
        mine = self.catalogue.implementation_items(p)
        compared = domain.compare_catalogue(standard, mine, domain.same_elements(tenant[:2]))
        if import_new:
            by_code = {str(s.get("basic_code")): s for s in standard}
            for c in compared:
                if not c.county_item_id:
                    c.draft_item_id = self.catalogue.import_draft(p, by_code[c.standard_code])
        return tenant[:2], compared
