"""python -m gateway.docking — the provincial docking gateway's process: gRPC (the province's inbound
messages through the REST edge, backlog, log, catalogue comparison, reconciliation), the consumer of the
platform's case events and the delivery worker that reports them to the province."""

import datetime as dt
import sys

from gateway.docking.delivery import DeliveryWorker
from gateway.docking.handlers import DockingHandlers
from gateway.docking.province import ProvinceClient
from gateway.docking.service import event_consumer, registration
from gateway.docking.settings import DockingSettings
from gateway.docking.translate import EventsOut
from shared.runner import ServiceParts, run_grpc_service
from shared.sm2 import Signer


def main() -> int:
    settings = DockingSettings()

    def compose(db) -> ServiceParts:
        from gateway.docking.clients import CatalogueClient, FeesClient, IntakeClient
        from shared.auth import ServiceCredentials

        timeout = settings.downstream_timeout_seconds
        handlers = DockingHandlers(
            db, signer=Signer(settings.docking_private_key, settings.docking_public_key),
            province_keys=settings.province_keys, events_out=EventsOut(),
            province=ProvinceClient(settings.docking_province_url, timeout=settings.docking_http_timeout_seconds),
            fees=FeesClient(settings.fees_target, timeout=timeout),
            intake=IntakeClient(settings.intake_target, service=ServiceCredentials.from_settings(settings, "docking"),
                                timeout=timeout),
            catalogue=CatalogueClient(settings.catalogue_target, timeout=timeout),
            backoff_first=dt.timedelta(seconds=settings.docking_backoff_first_seconds),
            backoff_max=dt.timedelta(seconds=settings.docking_backoff_max_seconds),
            batch=settings.docking_delivery_batch,
            refusals_per_minute=settings.docking_refusals_stored_per_minute,
            settle=dt.timedelta(seconds=settings.docking_settle_seconds))
        return ServiceParts([registration(handlers)],
                            [event_consumer(handlers, db, settings.amqp_url, prefetch=settings.consumer_prefetch,
                                            linger=settings.consumer_linger_seconds),
                             DeliveryWorker(handlers, settings.docking_delivery_interval_seconds)])

    return run_grpc_service("docking", settings, compose)


if __name__ == "__main__":
    sys.exit(main())
