"""python -m services.catalogue — the catalogue service process."""

import sys

from services.catalogue.handlers import CatalogueHandlers
from services.catalogue.service import registration
from services.catalogue.settings import CatalogueSettings
from shared.runner import ServiceParts, run_grpc_service


def main() -> int:
    settings = CatalogueSettings()

    def compose(db) -> ServiceParts:
        return ServiceParts([registration(CatalogueHandlers(db, public_base_url=settings.public_base_url))])

    return run_grpc_service("catalogue", settings, compose)


if __name__ == "__main__":
    sys.exit(main())
