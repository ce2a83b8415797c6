"""python -m services.intake — the intake service process (composition root)."""

import sys

from services.intake.catalogue import CachedCatalogue, GrpcCatalogue
from services.intake.handlers import IntakeHandlers
from services.intake.service import event_consumer, registration
from services.intake.settings import IntakeSettings
from services.intake.sweeper import DeadlineSweeper
from services.intake.translate import EventsOut
from shared.clock import Clock
from shared.grpc.provinces import GrpcProvinces
from shared.provinces import ProvinceBook
from shared.runner import ServiceParts, run_grpc_service


def main() -> int:
    settings = IntakeSettings()
    clock = Clock.from_settings(settings)
    catalogue: GrpcCatalogue | CachedCatalogue = GrpcCatalogue(settings.catalogue_target,
                                                               timeout=settings.catalogue_timeout_seconds)
    if settings.catalogue_cache_seconds > 0:
        catalogue = CachedCatalogue(catalogue, ttl=settings.catalogue_cache_seconds)
    provinces = GrpcProvinces(settings.catalogue_target, timeout=settings.catalogue_timeout_seconds)

    def compose(db) -> ServiceParts:
        handlers = IntakeHandlers(db, catalogue, clock, EventsOut(), public_base_url=settings.public_base_url,
                                  case_number_max=settings.case_number_max,
                                  query_code_length=settings.query_code_length,
                                  provinces=ProvinceBook(provinces, ttl=settings.province_record_seconds))
        return ServiceParts([registration(handlers)],
                            [DeadlineSweeper(handlers, settings.sweep_interval_seconds),
                             event_consumer(handlers, db, settings.amqp_url, prefetch=settings.consumer_prefetch)])

    try:
        return run_grpc_service("intake", settings, compose)
    finally:
        catalogue.close()
        provinces.close()


if __name__ == "__main__":
    sys.exit(main())
