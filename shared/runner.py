"""Run a gRPC service process: the composition root's common part.

Sets up logging and telemetry, builds the server with the platform interceptors, starts the outbox
relay (and consumers, if any), and stops all of it cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from shared import pdf
from shared.auth import TokenVerifier
from shared.config import DEVELOPMENT, GrpcServiceSettings
from shared.db import Database, instrument_database
from shared.grpc.server import Registration, build_server
from shared.registry import spec
from shared.telemetry import setup_telemetry, shutdown_telemetry

log = logging.getLogger("sanji.runner")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")


def settle_heap() -> int:
    """Keep what startup built for the life of the process out of the garbage collector's way: collect once (so no
    garbage of startup is kept), then move every object left into the permanent generation (gc.freeze). A full
    collection while serving then walks only what serving made, instead of the ~150,000 objects of the imported
    modules, protobuf descriptors, SQLAlchemy's and grpcio's machinery and the composed handlers — and a full
    collection stops every thread of the process while it runs. Measured in the lifecycle bench (issue 22, 480
    cases): approval's two full collections took 80 ms of CPU (130 ms of wall time) each before, one took 2 ms
    after. Call it once, when startup is done and before serving starts. Returns the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@dataclass
class ServiceParts:
    """What a service's composition root builds once it has its database: the gRPC servicers and the
    background workers (event consumer, sweeper …) that run beside the outbox relay. Each worker has
    `start()` and `stop()`."""

    registrations: list[Registration]
    workers: list = field(default_factory=list)


def run_grpc_service(name: str, settings: GrpcServiceSettings, compose: Callable[[Database], ServiceParts]) -> int:
    """Run service `name` (a row of shared/registry.py): `compose(db)` is called once and builds its parts."""
    spec(name)      # a service that is not registered is not started
    configure_logging(settings.log_level)
    setup_telemetry(name, settings.otel_exporter, settings.otel_endpoint)
    pdf.configure(settings.pdf_font)
    db = Database.connect(settings.database_url, schema=name, pool_size=settings.pool_size)
    db.check_walls()        # never serve on a role RLS does not hold (superuser, BYPASSRLS, table owner)
    if settings.otel_exporter != "none":
        # SQL statements as child spans only where spans are kept: with no exporter nothing is
        # recorded, and the instrumentation still parsed every statement for its span name
        instrument_database(db)
    verifier = TokenVerifier.from_settings(settings)
    parts = compose(db)
    from shared.messaging.consumer import EventConsumer

    for worker in parts.workers:
        if isinstance(worker, EventConsumer):      # the platform's rules for every service's consumer
            worker.passive_topology = settings.amqp_passive_topology
            worker.verify_publishers = settings.amqp_verify_publishers
    from shared.grpc.operations import operations_registration

    # beside the service's own API: its parked events and their replay, for supervision staff (issue 20 item 3)
    registrations = [*parts.registrations, operations_registration(name, settings.amqp_url, db.engine)]
    server, port, health = build_server(registrations, verifier=verifier, host=settings.grpc_host,
                                        port=settings.grpc_port, workers=settings.grpc_workers,
                                        reflection_enabled=settings.mode == DEVELOPMENT)

    from shared.messaging.relay import OutboxRelay, routed_event_types

    # the registry's topology is declared before any service runs: an event someone consumes must reach a queue
    workers: list = [OutboxRelay(db.engine, name, settings.amqp_url, batch_size=settings.relay_batch_size,
                                 idle_seconds=settings.relay_idle_seconds, service=name,
                                 routed=routed_event_types(name)), *parts.workers]
    log.debug("%s: %d objects of startup kept out of the collector's generations", name, settle_heap())
    for w in workers:
        w.start()
    server.start()
    log.info("%s service listening on %s:%d", name, settings.grpc_host, port)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    log.info("%s service stopping", name)
    health.enter_graceful_shutdown()
    server.stop(grace=5).wait()
    for w in workers:
        w.stop()
    db.dispose()
    shutdown_telemetry()
    return 0
