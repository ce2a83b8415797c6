"""python -m services.agency — the agency service process (gRPC and its event consumer)."""

import sys

from services.agency.clients import CatalogueClient, IntakeClient
from services.agency.handlers import AgencyHandlers
from services.agency.service import event_consumer, registration
from services.agency.settings import AgencySettings
from services.agency.translate import EventsOut
from shared.auth import ServiceCredentials
from shared.clock import Clock
from shared.runner import ServiceParts, run_grpc_service


def main() -> int:
    settings = AgencySettings()
    clock = Clock.from_settings(settings)

    def compose(db) -> ServiceParts:
        handlers = AgencyHandlers(
            db, CatalogueClient(settings.catalogue_target, timeout=settings.downstream_timeout_seconds),
            IntakeClient(settings.intake_target, service=ServiceCredentials.from_settings(settings, "agency"),
                         timeout=settings.downstream_timeout_seconds), clock, EventsOut())
        return ServiceParts([registration(handlers)],
                            [event_consumer(handlers, db, settings.amqp_url, prefetch=settings.consumer_prefetch)])

    return run_grpc_service("agency", settings, compose)


if __name__ == "__main__":
    sys.exit(main())
