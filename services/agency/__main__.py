"""python -m services.agency — the agency service process (gRPC and its event consumer)."""

import sys

from services.agency.clients import CatalogueClient, IntakeClient
from services.agency.handlers import AgencyHandlers
from services.agency.service import progress_consumer, registration
from services.agency.settings import AgencySettings
from shared.runner import run_grpc_service


def main() -> int:
    settings = AgencySettings()
    built: dict = {}

    def handlers(db) -> AgencyHandlers:
        if "handlers" not in built:
            built["handlers"] = AgencyHandlers(
                db, CatalogueClient(settings.catalogue_target, timeout=settings.downstream_timeout_seconds),
                IntakeClient(settings.intake_target, timeout=settings.downstream_timeout_seconds))
        return built["handlers"]

    return run_grpc_service(
        "agency", settings, lambda db: [registration(handlers(db))],
        extra_workers=lambda db: [progress_consumer(handlers(db), db, settings.amqp_url,
                                                    prefetch=settings.consumer_prefetch)])


if __name__ == "__main__":
    sys.exit(main())
