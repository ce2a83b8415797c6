"""Fuzz (issue 20, the suite): generated requests against the running platform on loopback, with counts.

- REST: Schemathesis generates requests for every operation of the gateway's OpenAPI (a new route is fuzzed
  without anyone listing it), sent as a county clerk, a county admin and with no token. Found: answers 5xx,
  answers that do not conform to the operation's declared responses (status and body schema), and 4xx
  answers whose body is not the gateway's one error shape with a Chinese message (a 422 also names the field).
- gRPC: Hypothesis builds messages for every method of every service (from the protobuf descriptors: random
  scalars, strings with NUL bytes, lone surrogates and very long text, 64-bit extremes, unknown enum numbers),
  sent with a clerk's token. Found: any INTERNAL or UNKNOWN status.

`fuzz_rest` / `fuzz_grpc` return a report; tests/faults/test_fuzz.py runs a bounded number in `make test`,
`make faults` runs ≥ 10,000 REST requests (`python -m tests.faults.fuzz`).
"""

from __future__ import annotations

import importlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from shared import registry
from shared.grpc.client import bearer

CJK = re.compile(r"[\u4e00-\u9fff]")
ERROR_KEYS = {"error", "message"}


@dataclass
class FuzzReport:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    schema_violations: list[str] = field(default_factory=list)
    bad_errors: list[str] = field(default_factory=list)        # 4xx not in the one shape / not Chinese / no field
    answers: Counter = field(default_factory=Counter)           # (status, error code, message) of the 4xx

    def lines(self, what: str) -> list[str]:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return [f"{what}: {self.requests} requests ({statuses})",
                f"  5xx / INTERNAL / UNKNOWN: {len(self.server_errors)}; schema violations: "
                f"{len(self.schema_violations)}; 4xx without a Chinese message naming the field: "
                f"{len(self.bad_errors)}",
                *(f"    {x}" for x in (self.server_errors + self.schema_violations + self.bad_errors)[:40]),
                "  most frequent 4xx answers:",
                *(f"    {n} × {a}" for a, n in self.answers.most_common(8))]


def _error_ok(status: int, text: str) -> str | None:
    """Why a 4xx answer is not the gateway's error shape in Chinese (None: it is)."""
    try:
        body = json.loads(text)
    except ValueError:
        return "not JSON"
    if not isinstance(body, dict) or not ERROR_KEYS <= body.keys():
        return f"not {{error, message, field}}: {text[:120]}"
    if not CJK.search(str(body.get("message", ""))):
        return f"message not in Chinese: {body.get('message')!r}"
    if status == 422 and not body.get("field"):
        return f"422 names no field: {body.get('message')!r}"
    return None


def fuzz_rest(base_url: str, tokens: dict[str, str | None], *, examples: int, seed: int = 0) -> FuzzReport:
    """Every operation of `base_url`'s OpenAPI × each caller, `examples` generated requests each."""
    import schemathesis
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    report = FuzzReport()
    for result in schema.get_all_operations():
        operation = result.ok()
        for label, token in tokens.items():
            headers = {"authorization": f"Bearer {token}"} if token else {}
            _fuzz_operation(report, base_url, operation, label, headers, examples, seed,
                            [status_code_conformance, response_schema_conformance])
    return report


def _fuzz_operation(report: FuzzReport, base_url: str, operation: Any, label: str, headers: dict, examples: int,
                    seed: int, checks: list) -> None:
    @settings(max_examples=examples, deadline=None, database=None, derandomize=seed == 0,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(case=operation.as_strategy())
    def one(case: Any) -> None:
        if headers:     # the caller's login, not a generated Authorization header
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            case.headers.update(headers)
        try:
            response = case.call(base_url=base_url, timeout=30)
        except Exception as exc:  # noqa: BLE001 — a transport failure is a finding, not a crash
            report.server_errors.append(f"{label}: {operation.method.upper()} {operation.path}: {exc!r}")
            return
        report.requests += 1
        status = response.status_code
        report.statuses[f"{status // 100}xx"] += 1
        where = f"{label}: {case.method} {case.formatted_path} → {status}"
        if status >= 500:
            report.server_errors.append(f"{where} {response.text[:160]}")
            return
        try:
            case.validate_response(response, checks=checks)
        except Exception as exc:  # noqa: BLE001 — every violation counted, the run goes on
            report.schema_violations.append(f"{where}: {str(exc).strip().splitlines()[0][:200]}")
        if 400 <= status < 500:
            try:
                answer = json.loads(response.text)
                report.answers[f"{label}: {status} {answer.get('error')}: {str(answer.get('message'))[:70]}"] += 1
            except (ValueError, AttributeError):
                report.answers[f"{label}: {status} {response.text[:70]}"] += 1
        if 400 <= status < 500 and status != 429:
            why = _error_ok(status, response.text)
            if why:
                report.bad_errors.append(f"{where}: {why}")
    one()


# -- gRPC ---------------------------------------------------------------------------------------------
_INT = {FieldDescriptor.TYPE_INT32: (-2**31, 2**31 - 1), FieldDescriptor.TYPE_SINT32: (-2**31, 2**31 - 1),
        FieldDescriptor.TYPE_SFIXED32: (-2**31, 2**31 - 1), FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
        FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1), FieldDescriptor.TYPE_INT64: (-2**63, 2**63 - 1),
        FieldDescriptor.TYPE_SINT64: (-2**63, 2**63 - 1), FieldDescriptor.TYPE_SFIXED64: (-2**63, 2**63 - 1),
        FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1)}
NASTY = st.sampled_from(["", "\x00", "a\x00b", "\ud800", "一" * 5000, "620602", "620602001", "' OR 1=1 --",
                         "00000000-0000-0000-0000-000000000000", "2026-02-30", "-1", "9" * 40])


def _scalar(f: FieldDescriptor) -> st.SearchStrategy:
    if f.type in _INT:
        lo, hi = _INT[f.type]
        return st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, 0, -1 if lo < 0 else 1]))
    if f.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32 if f.type == FieldDescriptor.TYPE_FLOAT else 64)
    if f.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if f.type == FieldDescriptor.TYPE_ENUM:
        numbers = [v.number for v in f.enum_type.values]
        return st.one_of(st.sampled_from(numbers), st.integers(-5, 1000))
    if f.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    return st.one_of(NASTY, st.text(max_size=40))


def _repeated(f: FieldDescriptor) -> bool:
    repeated = getattr(f, "is_repeated", None)        # protobuf ≥ 6 (upb); `label` before
    return bool(repeated) if repeated is not None else f.label == FieldDescriptor.LABEL_REPEATED


def message_strategy(desc: Any, depth: int = 0) -> st.SearchStrategy:
    """Dicts of field name → value for `desc` (nested messages to a few levels)."""
    fields = {}
    for f in desc.fields:
        if f.message_type is not None:
            if f.message_type.GetOptions().map_entry:
                value = st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)
            elif depth >= 3:
                continue
            else:
                sub = message_strategy(f.message_type, depth + 1)
                value = st.lists(sub, max_size=3) if _repeated(f) else sub
        else:
            value = _scalar(f)
            if _repeated(f):
                value = st.lists(value, max_size=4)
        fields[f.name] = value
    return st.fixed_dictionaries({}, optional=fields)


def _build(cls: Any, values: dict) -> Any:
    msg = cls()
    for name, value in values.items():
        f = cls.DESCRIPTOR.fields_by_name[name]
        try:
            if f.message_type is not None and f.message_type.GetOptions().map_entry:
                getattr(msg, name).update(value)
            elif f.message_type is not None:
                sub_cls = GetMessageClass(f.message_type)
                if _repeated(f):
                    getattr(msg, name).extend(_build(sub_cls, v) for v in value)
                else:
                    getattr(msg, name).CopyFrom(_build(sub_cls, value))
            elif _repeated(f):
                getattr(msg, name).extend(value)
            else:
                setattr(msg, name, value)
        except (ValueError, TypeError):
            pass          # a value the message itself cannot hold (a lone surrogate): not sent
    return msg


def grpc_methods(service: str) -> list[tuple[str, Any, Any]]:
    """(full method path, request class, response class) of every method of `service`'s API."""
    importlib.import_module(f"sanji.{service}.v1.{service}_pb2")
    pool = descriptor_pool.Default()
    svc = next(s for s in pool.FindFileByName(f"sanji/{service}/v1/{service}.proto").services_by_name.values())
    return [(f"/{svc.full_name}/{m.name}", GetMessageClass(m.input_type), GetMessageClass(m.output_type))
            for m in svc.methods]


def fuzz_grpc(targets: dict[str, str], token: str, *, examples: int) -> FuzzReport:
    """Every method of every registered service with a gRPC API × `examples` generated messages."""
    report = FuzzReport()
    for name, target in targets.items():
        try:
            methods = grpc_methods(name)
        except (ImportError, KeyError, StopIteration):
            continue
        with grpc.insecure_channel(target) as channel:
            for path, req_cls, resp_cls in methods:
                call = channel.unary_unary(path, request_serializer=req_cls.SerializeToString,
                                           response_deserializer=resp_cls.FromString)
                _fuzz_method(report, call, path, req_cls, token, examples)
    return report


def _fuzz_method(report: FuzzReport, call: Any, path: str, req_cls: Any, token: str, examples: int) -> None:
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(values=message_strategy(req_cls.DESCRIPTOR))
    def one(values: dict) -> None:
        request = _build(req_cls, values)
        report.requests += 1
        try:
            call(request, metadata=bearer(token), timeout=30)
            report.statuses["OK"] += 1
        except grpc.RpcError as exc:
            report.statuses[exc.code().name] += 1
            if exc.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                report.server_errors.append(f"{path} {exc.code().name}: {exc.details()!s:.160} "
                                            f"← {str(values)[:200]}")
    one()


def registered_targets(platform: Any) -> dict[str, str]:
    return {s.name: platform.target(s.name) for s in registry.SERVICES if s.name in platform.procs}


def main(argv: list[str] | None = None) -> int:
    """`make faults`: ≥ 10,000 REST requests and the gRPC fuzz against a platform of its own."""
    import argparse
    import os
    import tempfile
    from pathlib import Path

    from infra.oidc.client import login
    from tests.faults.platform import fault_platform, stop_on_sigterm

    parser = argparse.ArgumentParser(prog="python -m tests.faults.fuzz")
    parser.add_argument("--examples", type=int, default=25, help="per operation and caller (REST)")
    parser.add_argument("--grpc-examples", type=int, default=30, help="per gRPC method")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    run_dir = Path(os.environ.get("SANJI_FAULTS_DIR") or tempfile.mkdtemp(prefix="sanji-fuzz-"))
    with fault_platform(run_dir, registry.NAMES) as (platform, _proxies, _url, password):
        tokens = {u: login(platform.oidc_url, u, password) for u in ("county.clerk", "county.admin")}
        rest = fuzz_rest(platform.gateway_url, {**tokens, "no token": None}, examples=args.examples)
        rpc = fuzz_grpc(registered_targets(platform), tokens["county.clerk"], examples=args.grpc_examples)
    for line in rest.lines("REST (Schemathesis)") + rpc.lines("gRPC (Hypothesis)"):
        print(line)
    bad = rest.server_errors or rest.schema_violations or rest.bad_errors or rpc.server_errors
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
