"""gRPC reflection lists every method of a service: on in development mode (make run), off in a deployment."""

from __future__ import annotations

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from shared.grpc.server import Registration, build_server


class _Nobody:
    def verify(self, token: str):
        raise AssertionError("reflection is asked without a token")


def _add(servicer, server) -> None:
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "sanji.test.v1.Hidden", {"Do": grpc.unary_unary_rpc_method_handler(lambda r, c: b"")}),))


def _list_services(enabled: bool) -> list[str]:
    server, port, _ = build_server([Registration(object(), _add, "sanji.test.v1.Hidden")], verifier=_Nobody(),
                                   host="127.0.0.1", port=0, workers=1, reflection_enabled=enabled)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = reflection_pb2_grpc.ServerReflectionStub(ch)
            answers = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                timeout=10)
            return [s.name for a in answers for s in a.list_services_response.service]
    finally:
        server.stop(0)


def test_reflection_lists_the_services_only_where_it_is_enabled():
    assert "sanji.test.v1.Hidden" in _list_services(True)
    with pytest.raises(grpc.RpcError) as e:
        _list_services(False)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
