"""python -m services.complaints — the complaints service process (gRPC and its event consumer)."""

import datetime as dt
import sys

from services.complaints.handlers import ComplaintHandlers
from services.complaints.rating_handlers import RatingHandlers
from services.complaints.service import Handlers, event_consumer, registration
from services.complaints.settings import ComplaintsSettings
from services.complaints.signing import Verifier
from services.complaints.translate import EventsOut
from services.complaints.units import GrpcUnits
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import Clock
from shared.runner import ServiceParts, run_grpc_service


def main() -> int:
    settings = ComplaintsSettings()
    clock = Clock.from_settings(settings)

    def compose(db) -> ServiceParts:
        calendars = CalendarCache(CalendarStore(db.engine, db.schema))
        events = EventsOut()
        complaints = ComplaintHandlers(
            db, clock, events, calendars=calendars, public_base_url=settings.public_base_url,
            hotline=Verifier(settings.complaints_hotline_public_key),
            hotline_skew=dt.timedelta(seconds=settings.complaints_hotline_clock_skew_seconds),
            units=GrpcUnits(settings.catalogue_target, timeout=settings.catalogue_timeout_seconds))
        ratings = RatingHandlers(db, clock, events, calendars, rules=complaints.rules)
        return ServiceParts([registration(complaints, ratings)],
                            [event_consumer(Handlers(complaints, ratings), db, settings.amqp_url,
                                            prefetch=settings.consumer_prefetch)])

    return run_grpc_service("complaints", settings, compose)


if __name__ == "__main__":
    sys.exit(main())
