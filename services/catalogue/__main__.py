"""python -m services.catalogue — the catalogue service process."""

import sys

from services.catalogue.handlers import CatalogueHandlers
from services.catalogue.service import registration
from services.catalogue.settings import CatalogueSettings
from shared.runner import run_grpc_service


def main() -> int:
    settings = CatalogueSettings()
    return run_grpc_service(
        "catalogue", settings,
        lambda db: [registration(CatalogueHandlers(db, public_base_url=settings.public_base_url))])


if __name__ == "__main__":
    sys.exit(main())
