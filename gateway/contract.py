"""The OpenAPI document as the REST contract (issue 20, item 7): every operation declares its success
response and the gateway's one error shape, and the login is declared as the realm's authorization-code
flow with PKCE (so /docs has an Authorize button).

- Errors: 400/401/403/404/409/422 (and 429 on the routes with a rate limit) answer `Error`
  ({error, message, field}), the shape gateway/errors.py writes; `default` covers 503/504.
- Success: a route that declares its own response model or `responses` keeps it. Otherwise its answer is
  read from the one way a router answers (gateway/rest.py): `to_json(<backend>.call(request, p, "Method", …))`
  is the JSON of that method's output message, described from the service's protobuf descriptor as
  `to_json` writes it (proto field names, every field without presence present, 64-bit integers as
  text, an enum as the strings it can be: a status's tokens, another enum's value names); a route that
  answers a file (`file_response`) is described as the file (PDF, HTML, CSV).
  A route whose answer cannot be read either way is listed by `undocumented()` (a test keeps it empty).
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pydantic import BaseModel, Field

from gateway.ratelimit import budget_of, needs_login
from gateway.rest import Backend, enum_json_values

ERROR_STATUSES = {
    "400": "请求无法处理", "401": "未登录或登录已失效", "403": "无权办理（角色或单位不符）",
    "404": "不存在，或无权查看", "409": "当前状态不允许此操作", "422": "输入不正确（field 指明字段）",
}
RATE_LIMITED = "请求过于频繁（按客户端地址限流）；Retry-After 指明需等待的秒数"
OTHER = "其他错误：服务暂时不可用（503）、超时（504）等"


class Error(BaseModel):
    """The gateway's one error shape."""

    error: str = Field(description="错误代码，如 invalid_argument、not_found、rate_limited")
    message: str = Field(description="中文说明")
    field: str | None = Field(None, description="出错的输入字段（422 时给出，如 elements.promised_limit_days）")
    trace_id: str | None = Field(None, description="本次请求的追踪编号（与响应头 X-Trace-Id 相同），咨询时提供")


# -- protobuf messages as JSON schema, as to_json writes them ------------------------------------------
_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"}, FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"}, FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
    FieldDescriptor.TYPE_ENUM: {"type": "string"},
}
for _t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32,
           FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
    _SCALARS[_t] = {"type": "integer"}
for _t in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64,
           FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
    _SCALARS[_t] = {"type": "string", "pattern": r"^-?\d+$", "description": "64 位整数（JSON 中为文本）"}


def _ref(message: Descriptor) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{message.full_name}"}


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _value_schema(field: FieldDescriptor, schemas: dict) -> dict:
    if field.message_type is not None:
        message_schema(field.message_type, schemas)
        return _ref(field.message_type)
    if field.enum_type is not None:     # what to_json writes: a status's token, any other enum's value name
        return {"type": "string", "enum": enum_json_values(field.enum_type)}
    return dict(_SCALARS[field.type])


def message_schema(message: Descriptor, schemas: dict) -> dict[str, str]:
    """Add the schema of `message` (and of every message it holds) to `schemas`; return its $ref."""
    if message.full_name in schemas:
        return _ref(message)
    schemas[message.full_name] = {}        # placeholder: a message may hold itself
    properties, required = {}, []
    for field in message.fields:
        if _is_map(field):
            value = field.message_type.fields_by_name["value"]
            schema = {"type": "object", "additionalProperties": _value_schema(value, schemas)}
        elif field.is_repeated:
            schema = {"type": "array", "items": _value_schema(field, schemas)}
        else:
            schema = _value_schema(field, schemas)
        properties[field.name] = schema
        if not field.has_presence:
            required.append(field.name)
    schemas[message.full_name] = {"type": "object", "title": message.name, "properties": properties,
                                  "required": required}
    return _ref(message)


# -- what a route answers, read from its source --------------------------------------------------------
@functools.cache
def _output_of(stub_cls: type, method: str) -> Descriptor | None:
    pb2 = importlib.import_module(stub_cls.__module__.removesuffix("_grpc"))
    for service in pb2.DESCRIPTOR.services_by_name.values():
        if method in service.methods_by_name:
            return service.methods_by_name[method].output_type
    return None


def _calls(fn: ast.AST, backends: dict[str, Backend]) -> Iterator[tuple[ast.Call, Descriptor]]:
    """Each `<backend>.call(request, p, "Method", …)` in `fn` with the method's output message."""
    for node in ast.walk(fn):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "call"
                and isinstance(node.func.value, ast.Name) and node.func.value.id in backends
                and len(node.args) >= 3 and isinstance(node.args[2], ast.Constant)
                and isinstance(node.args[2].value, str)):
            output = _output_of(backends[node.func.value.id].stub_cls, node.args[2].value)
            if output is not None:
                yield node, output


def _names(fn: ast.AST, calls: dict[ast.Call, Descriptor]) -> dict[str, Descriptor]:
    """Local names bound to a call's answer (`r = fees.call(…)`)."""
    return {target.id: calls[node.value] for node in ast.walk(fn) if isinstance(node, ast.Assign)
            and node.value in calls for target in node.targets if isinstance(target, ast.Name)}


class _Reader:
    """Reads what one function of a router module answers: the output message of the backend call it
    returns, directly, through a local name, or through a helper function of the same module."""

    def __init__(self, module):
        self.module = module
        self.backends = {name: obj for name, obj in vars(module).items() if isinstance(obj, Backend)}

    def returned_message(self, fn: ast.AST) -> Descriptor | None:
        """The one message every `return` of `fn` answers with (None if they differ or one is unknown)."""
        calls = dict(_calls(fn, self.backends))
        names = _names(fn, calls)
        found = {self.message_of(node.value, calls, names) for node in ast.walk(fn) if isinstance(node, ast.Return)}
        return found.pop() if len(found) == 1 else None

    def message_of(self, node: ast.AST | None, calls: dict, names: dict) -> Descriptor | None:
        if node in calls:
            return calls[node]
        if isinstance(node, ast.Name):
            return names.get(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            helper = getattr(self.module, node.func.id, None)
            if inspect.isfunction(helper) and helper.__module__ == self.module.__name__:
                return self.returned_message(_parse(helper))
        return None

    def json_of(self, node: ast.AST | None, calls: dict, names: dict) -> tuple[Descriptor, dict[str, Any]] | None:
        """`to_json(<an answer>)`, or a dict literal spreading one (`{"code": "SUCCESS", **to_json(r)}`)."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "to_json" \
                and node.args:
            message = self.message_of(node.args[0], calls, names)
            return (message, {}) if message is not None else None
        if isinstance(node, ast.Dict):
            extra, found = {}, None
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:
                    found = self.json_of(value, calls, names)
                elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                    extra[key.value] = {"type": "string"}
            if found:
                return found[0], extra
        return None


def _answers_a_file(fn: ast.AST, module) -> bool:
    """The route returns `file_response(…)`, or a helper of its module that does."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name):
            name = node.value.func.id
            if name == "file_response":
                return True
            helper = getattr(module, name, None)
            if inspect.isfunction(helper) and helper.__module__ == module.__name__:
                if _answers_a_file(_parse(helper), module):
                    return True
    return False


def _parse(fn) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]


FILE_TYPES = {".pdf": ["application/pdf"], ".html": ["text/html"], "download": ["text/csv", "application/pdf"]}


def success(route: APIRoute, schemas: dict) -> dict[str, Any] | None:
    """The content of the route's success response, or None when its answer cannot be read."""
    module = sys.modules[route.endpoint.__module__]
    try:
        fn = _parse(route.endpoint)
    except (OSError, TypeError, SyntaxError):
        return None
    if _answers_a_file(fn, module):
        kinds = next((v for k, v in FILE_TYPES.items() if route.path.endswith(k)), ["application/octet-stream"])
        return {kind: {"schema": {"type": "string", "format": "binary"}} for kind in kinds}
    reader = _Reader(module)
    calls = dict(_calls(fn, reader.backends))
    names = _names(fn, calls)
    answers = [reader.json_of(node.value, calls, names) for node in ast.walk(fn) if isinstance(node, ast.Return)]
    if not answers or any(a is None for a in answers) or len({a[0].full_name for a in answers}) != 1:
        return None
    message, extra = answers[0]
    ref = message_schema(message, schemas)
    schema = {"allOf": [ref, {"type": "object", "properties": extra, "required": list(extra)}]} if extra else ref
    return {"application/json": {"schema": schema}}


def _documented_routes(app: FastAPI) -> Iterator[APIRoute]:
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            yield route


def _declares_its_own(route: APIRoute) -> bool:
    code = route.status_code or 200
    return route.response_model is not None or code in route.responses or str(code) in route.responses


def undocumented(app: FastAPI) -> list[str]:
    """The operations whose success response the document does not describe."""
    spec = app.openapi()
    missing = []
    for route in _documented_routes(app):
        for method in route.methods:
            op = spec["paths"][route.path_format][method.lower()]
            content = op["responses"].get(str(route.status_code or 200), {}).get("content", {})
            if not content or all(not c.get("schema") for c in content.values()):
                missing.append(f"{method} {route.path_format}")
    return missing


def security_schemes(settings) -> dict[str, Any]:
    browser = (settings.oidc_public_url or settings.oidc_server_url).rstrip("/")
    realm = f"/realms/{settings.oidc_realm}/protocol/openid-connect"
    return {
        "oidc": {"type": "oauth2", "description": "统一身份认证：授权码模式，须使用 PKCE（S256）",
                 "flows": {"authorizationCode": {
                     "authorizationUrl": f"{browser}{realm}/auth",
                     "tokenUrl": f"{settings.oidc_server_url.rstrip('/')}{realm}/token",
                     "scopes": {"openid": "身份", "profile": "姓名与单位"}}}},
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "统一身份认证签发的访问令牌"},
    }


def build(app: FastAPI, settings) -> dict[str, Any]:
    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = Error.model_json_schema()
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for route in _documented_routes(app):
        content = None if _declares_its_own(route) else success(route, schemas)
        limited = budget_of(route) is not None
        for method in route.methods:
            op = spec["paths"][route.path_format][method.lower()]
            responses = op["responses"]
            code = str(route.status_code or 200)
            if content is not None:
                responses.setdefault(code, {"description": "成功"})["content"] = content
            for status, text in ERROR_STATUSES.items():
                responses[status] = {"description": text, "content": error}
            if limited:
                responses["429"] = {"description": RATE_LIMITED, "content": error, "headers": {
                    "Retry-After": {"description": "需等待的秒数", "schema": {"type": "integer"}}}}
            responses["default"] = {"description": OTHER, "content": error}
            if needs_login(route.dependant):
                op["security"] = [{"oidc": ["openid"]}, {"bearer": []}]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    components["securitySchemes"] = security_schemes(settings)
    return spec


def install(app: FastAPI, settings) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app, settings)
        return app.openapi_schema

    app.openapi = openapi
