"""python -m services.catalogue — the catalogue service process."""

import sys

from services.catalogue.handlers import CatalogueHandlers
from services.catalogue.service import registration
from services.catalogue.settings import CatalogueSettings
from services.catalogue.translate import EventsOut
from shared.clock import Clock
from shared.runner import ServiceParts, run_grpc_service


def main() -> int:
    settings = CatalogueSettings()

    def compose(db) -> ServiceParts:
        """The handlers, built once, behind the gRPC servicer; the catalogue consumes no events."""
        handlers = CatalogueHandlers(db, events_out=EventsOut(), public_base_url=settings.public_base_url,
                                     clock=Clock.from_settings(settings))
        return ServiceParts([registration(handlers)])

    return run_grpc_service("catalogue", settings, compose)


if __name__ == "__main__":
    sys.exit(main())
