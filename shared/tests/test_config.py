"""Settings rules that are not plain defaults."""

from shared.config import BACKGROUND_CONNECTIONS, GrpcServiceSettings


def test_the_pool_holds_a_connection_for_every_thread_that_uses_one():
    assert GrpcServiceSettings(grpc_workers=16, db_pool_size=0).pool_size == 16 + BACKGROUND_CONNECTIONS
    assert GrpcServiceSettings(grpc_workers=4, db_pool_size=0).pool_size == 4 + BACKGROUND_CONNECTIONS
    assert GrpcServiceSettings(grpc_workers=16, db_pool_size=6).pool_size == 6     # an operator's choice wins
