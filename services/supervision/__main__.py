"""python -m services.supervision — the supervision service process (composition root)."""

import sys

from services.supervision.handlers import SupervisionHandlers
from services.supervision.service import event_consumer, registration
from services.supervision.settings import SupervisionSettings
from services.supervision.sweeper import ThresholdSweeper
from services.supervision.translate import EventsOut
from shared import hashchain
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import Clock
from shared.grpc.provinces import GrpcProvinces
from shared.provinces import ProvinceBook
from shared.runner import ServiceParts, run_grpc_service


def main() -> int:
    settings = SupervisionSettings()
    clock = Clock.from_settings(settings)
    signer = hashchain.HeadSigner(settings.supervision_chain_private_key, settings.supervision_chain_public_key)
    keys = {signer.key_id: settings.supervision_chain_public_key}
    for old in filter(None, (k.strip().lower() for k in settings.supervision_chain_previous_public_keys.split(","))):
        keys[hashchain.key_id(old)] = old

    def compose(db) -> ServiceParts:
        provinces = ProvinceBook(GrpcProvinces(settings.catalogue_target, timeout=settings.catalogue_timeout_seconds),
                                 ttl=settings.province_record_seconds)
        calendars = CalendarCache(CalendarStore(db.engine, "supervision", province_region=provinces.calendar_region))
        handlers = SupervisionHandlers(db, clock, calendars, EventsOut(), signer, keys, provinces=provinces)
        return ServiceParts([registration(handlers)],
                            [ThresholdSweeper(handlers, settings.sweep_interval_seconds),
                             event_consumer(handlers, db, settings.amqp_url, prefetch=settings.consumer_prefetch,
                                            linger=settings.consumer_linger_seconds)])

    return run_grpc_service("supervision", settings, compose)


if __name__ == "__main__":
    sys.exit(main())
