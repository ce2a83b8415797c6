"""The provincial integrated platform (省一体化政务服务平台), simulated on loopback — the counterpart the docking
gateway's tests and `make run` work against (DESIGN §8: every external system has a real local counterpart).

It speaks the docking envelope (gateway/docking/envelope.py) both ways, with its own SM2 key:

- `POST /api/reports`: a county's report (办件信息) or an item's guide (办事指南, type `guide`). The county's
  signature, timestamp (±5 min) and nonce are checked (refused with 401 otherwise); a report is kept once by
  message id in the receipt log, and answered with a signed receipt (a report sent again gets the same
  receipt, `duplicate: true`);
- `POST /api/catalogue`: the province's standard items (signed answer to a signed query);
- `POST /api/receipts`: the receipt log of one county and day (China time), for the daily reconciliation;
- it sends online applications and payment callbacks to the county (`send`), signed, fresh, each with its
  own nonce (`online_application`, `payment_callback` build them; tests may alter or replay them);
- its receipt log is kept, when given a file (`receipt_log`, JSON lines: one line per receipt, one per receipt
  lost on purpose), so a simulator restarted on the same file still holds what it received (`make run` keeps
  it under its run dir);
- `fault(mode, seconds)` makes it fail: `down` (the port refuses connections), `slow` (every answer waits),
  `500` (every report answered with a server error), `refuse_signature` (every report refused as if its
  signature were bad), `ok` (back to normal). Also `POST /admin/fault` on the running server.

It also serves as the identity provider of the provincial portal where asked (infra.oidc's provider with the
province's realm): `python -m infra.province --idp-port …`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import flask
import httpx
import werkzeug.serving

from gateway.docking import domain
from gateway.docking.envelope import seal, signature_ok
from gateway.docking.settings import DEV_PROVINCE_PRIVATE_KEY, DEV_PROVINCE_PUBLIC_KEY
from shared.sm2 import Signer, Verifier, sm3_hex

FAULTS = ("ok", "down", "slow", "500", "refuse_signature")
# what the county may send to /api/reports: case reports (办件信息汇聚) and guides (办事指南)
REPORT_KINDS = ("case_report", "guide")


@dataclass
class Receipt:
    seq: int
    message_id: str
    type: str              # the report's event (application_accepted …)
    tenant: str
    case_ref: str
    received_at: dt.datetime
    body: dict[str, Any]
    hash: str
    kind: str = "case_report"   # the envelope's type: case_report (办件信息) or guide (办事指南)


@dataclass
class ProvinceState:
    receipts: dict[str, Receipt] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    nonces: set[tuple[str, str]] = field(default_factory=set)
    refused: list[tuple[str, str]] = field(default_factory=list)      # (reason, message id)
    mode: str = "ok"
    slow_seconds: float = 0.0
    attempts: int = 0                                                  # report requests, taken or not
    lock: threading.Lock = field(default_factory=threading.Lock)


class ProvinceSimulator:
    def __init__(self, *, county_public_key: str, province: str = "62", catalogue: list[dict[str, Any]] | None = None,
                 private_key: str = DEV_PROVINCE_PRIVATE_KEY, public_key: str = DEV_PROVINCE_PUBLIC_KEY,
                 host: str = "127.0.0.1", port: int = 0, county_url: str = "", receipt_log: str | Path | None = None):
        self.province = province
        self.signer = Signer(private_key, public_key)
        self.county = Verifier(county_public_key)
        self.catalogue = list(catalogue or [])
        self.state = ProvinceState()
        self.receipt_log = Path(receipt_log) if receipt_log else None
        if self.receipt_log is not None:
            self._load_receipts(self.receipt_log)
        self.host = host
        self.county_url = county_url.rstrip("/")
        self.app = self._make_app()
        self._server = werkzeug.serving.make_server(host, port, self.app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=30, trust_env=False)

    # -- running -----------------------------------------------------------------------------------------
    def start(self) -> ProvinceSimulator:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="province-simulator")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def fault(self, mode: str, seconds: float = 0.0) -> None:
        """Fail from now on as `mode` says (FAULTS); `down` closes the port, anything else opens it again."""
        if mode not in FAULTS:
            raise ValueError(f"unknown fault {mode!r} (one of {', '.join(FAULTS)})")
        with self.state.lock:
            self.state.mode, self.state.slow_seconds = mode, seconds
        if mode == "down" and self._thread is not None:
            self.stop()
        elif mode != "down" and self._thread is None:
            self._server = werkzeug.serving.make_server(self.host, self.port, self.app, threaded=True)
            self.start()

    # -- what the county reported -----------------------------------------------------------------------
    def receipts(self, tenant: str | None = None) -> list[Receipt]:
        with self.state.lock:
            return [self.state.receipts[m] for m in self.state.order
                    if tenant is None or self.state.receipts[m].tenant == tenant]

    def reports_of(self, case_ref: str) -> list[str]:
        """The events reported for one case, in the order they arrived."""
        return [r.type for r in self.receipts() if r.case_ref == case_ref]

    def guides(self, tenant: str | None = None) -> list[Receipt]:
        """The guides the county pushed (published and adjusted items), in the order they arrived."""
        return [r for r in self.receipts(tenant) if r.kind == "guide"]

    def forget(self, message_id: str) -> None:
        """Lose a receipt (a province-side loss the reconciliation must find)."""
        with self.state.lock:
            self.state.receipts.pop(message_id, None)
            self.state.order = [m for m in self.state.order if m != message_id]
            self._append_log({"forget": message_id})

    # -- the receipt log on disk ---------------------------------------------------------------------------
    def _load_receipts(self, path: Path) -> None:
        """What an earlier run of the simulator received, from its file (a torn last line, from a kill in the
        middle of a write, is skipped: the county sends that report again, as after any lost answer)."""
        if not path.exists():
            return
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if "forget" in row:
                self.state.receipts.pop(row["forget"], None)
                self.state.order = [m for m in self.state.order if m != row["forget"]]
                continue
            row["received_at"] = dt.datetime.fromisoformat(row["received_at"])
            receipt = Receipt(**row)
            if receipt.message_id not in self.state.receipts:
                self.state.receipts[receipt.message_id] = receipt
                self.state.order.append(receipt.message_id)

    def _append_log(self, row: dict[str, Any]) -> None:
        """One line, written through to the disk before the receipt is answered (held: the state's lock)."""
        if self.receipt_log is None:
            return
        self.receipt_log.parent.mkdir(parents=True, exist_ok=True)
        with self.receipt_log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())

    # -- messages to the county -------------------------------------------------------------------------
    def envelope(self, type: str, tenant: str, body: dict[str, Any], *, case_ref: str = "",
                 now: dt.datetime | None = None, message_id: str | None = None) -> dict[str, Any]:
        return seal(self.signer, type=type, sender=f"province:{self.province}", receiver=f"county:{tenant}",
                    tenant=tenant, case_ref=case_ref, body=body, now=now, message_id=message_id)

    def online_application(self, tenant: str, unit: str, item_id: str, applicant: dict[str, Any], *,
                           scenario_code: str = "", materials: list[dict[str, Any]] | None = None,
                           form: dict[str, str] | None = None, serial: str | None = None,
                           channel: int = 2) -> dict[str, Any]:
        """An application made on the provincial portal (网上申请), for the handling unit `unit` of `tenant`."""
        serial = serial or f"{self.province}{dt.date.today():%Y%m%d}{secrets.token_hex(5).upper()}"
        body = {"provincial_serial": serial, "unit": unit, "item_id": item_id, "scenario_code": scenario_code,
                "applicant": applicant, "materials": materials or [], "form": form or {}, "channel": channel}
        return self.envelope(domain.InboundType.ONLINE_APPLICATION, tenant, body, case_ref=serial)

    def payment_callback(self, tenant: str, fields: dict[str, str], sign_fields: Callable[[dict[str, str]], str]
                         ) -> dict[str, Any]:
        """The unified public payment platform's callback (its own signature over the fields, as fees checks
        it), carried in the province's envelope."""
        return self.envelope(domain.InboundType.PAYMENT_CALLBACK, tenant,
                             {"fields": fields, "signature": sign_fields(fields)},
                             case_ref=fields.get("notice_number", ""))

    def send(self, msg: dict[str, Any] | str, url: str = "") -> httpx.Response:
        """POST a message (a dict, or text exactly as to be sent) to the county's inbound route."""
        target = (url or self.county_url or "").rstrip("/")
        content = msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False)
        return self._http.post(f"{target}/api/v1/province/messages", content=content.encode("utf-8"),
                               headers={"content-type": "application/json"})

    # -- the HTTP side -----------------------------------------------------------------------------------
    def _check(self, msg: Any) -> str | None:
        """Why a county's message is refused (None: it is good): signature, freshness, nonce."""
        if not isinstance(msg, dict) or not str(msg.get("sender", "")).startswith("county:"):
            return "malformed"
        if not signature_ok(self.county, msg):
            return "signature"
        try:
            domain.check_fresh(str(msg.get("timestamp", "")), dt.datetime.now(dt.UTC))
        except domain.Refusal:
            return "stale"
        if msg.get("sender") != f"county:{msg.get('tenant')}" or msg.get("receiver") != f"province:{self.province}":
            return "tenant"
        key = (str(msg["sender"]), str(msg.get("nonce", "")))
        with self.state.lock:
            if key in self.state.nonces:
                return "replay"
            self.state.nonces.add(key)
        return None

    def _refuse(self, reason: str, msg: Any):
        with self.state.lock:
            self.state.refused.append((reason, str((msg or {}).get("message_id", "")) if isinstance(msg, dict) else ""))
        return flask.jsonify({"error": reason}), 401

    def _make_app(self) -> flask.Flask:
        app = flask.Flask("sanji-province")

        @app.get("/healthz")
        def healthz():
            return {"status": "ok"}

        @app.post("/admin/fault")
        def admin_fault():
            body = flask.request.get_json(force=True, silent=True) or {}
            mode = str(body.get("mode", "ok"))
            if mode not in FAULTS or mode == "down":
                return flask.jsonify({"error": f"mode: one of {', '.join(m for m in FAULTS if m != 'down')}"}), 422
            self.fault(mode, float(body.get("seconds", 0) or 0))
            return {"mode": mode}

        @app.post("/api/reports")
        def reports():
            with self.state.lock:
                self.state.attempts += 1
                mode, slow = self.state.mode, self.state.slow_seconds
            if mode == "slow":
                time.sleep(slow)
            if mode == "500":
                return flask.jsonify({"error": "internal"}), 500
            msg = flask.request.get_json(force=True, silent=True)
            if mode == "refuse_signature":
                return self._refuse("signature", msg)
            why = self._check(msg)
            if not why and msg.get("type") not in REPORT_KINDS:
                why = "route"
            if why:
                return self._refuse(why, msg)
            mid = str(msg["message_id"])
            with self.state.lock:
                duplicate = mid in self.state.receipts
                if not duplicate:
                    self.state.receipts[mid] = Receipt(
                        len(self.state.order) + 1, mid, str((msg.get("body") or {}).get("event", msg["type"])),
                        str(msg["tenant"]), str(msg.get("case_ref", "")), dt.datetime.now(dt.UTC), msg["body"],
                        sm3_hex(json.dumps(msg["body"], sort_keys=True, ensure_ascii=False).encode()),
                        str(msg["type"]))
                    self.state.order.append(mid)
                    self._append_log({**asdict(self.state.receipts[mid]),
                                      "received_at": self.state.receipts[mid].received_at.isoformat()})
            return flask.jsonify(self.envelope("receipt", str(msg["tenant"]), {"message_id": mid,
                                                                                "duplicate": duplicate},
                                               case_ref=str(msg.get("case_ref", ""))))

        @app.post("/api/catalogue")
        def catalogue():
            msg = flask.request.get_json(force=True, silent=True)
            why = self._check(msg)
            if why:
                return self._refuse(why, msg)
            return flask.jsonify(self.envelope("catalogue", str(msg["tenant"]), {"items": self.catalogue}))

        @app.post("/api/receipts")
        def receipts():
            msg = flask.request.get_json(force=True, silent=True)
            why = self._check(msg)
            if why:
                return self._refuse(why, msg)
            tenant, day = str(msg["tenant"]), str((msg.get("body") or {}).get("day", ""))
            rows = [{"message_id": r.message_id, "type": r.type, "received_at": r.received_at.isoformat(),
                     "hash": r.hash} for r in self.receipts(tenant) if domain.day_of(r.received_at) == day]
            return flask.jsonify(self.envelope("receipts", tenant, {"day": day, "receipts": rows}))

        return app


def new_message_id() -> str:
    return str(uuid.uuid4())
