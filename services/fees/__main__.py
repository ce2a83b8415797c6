"""python -m services.fees — the fees service process (gRPC and its case_decided consumer)."""

import sys

from services.fees.handlers import FeesHandlers, decision_consumer
from services.fees.service import registration
from services.fees.settings import FeesSettings
from services.fees.signing import Signer, Verifier
from shared.clock import Clock
from shared.runner import run_grpc_service


def main() -> int:
    settings = FeesSettings()
    built: dict = {}

    def handlers(db) -> FeesHandlers:
        if "handlers" not in built:
            built["handlers"] = FeesHandlers(
                db, province=Verifier(settings.fees_province_public_key),
                receipt_signer=Signer(settings.fees_receipt_private_key, settings.fees_receipt_public_key),
                clock=Clock.from_settings(settings), public_base_url=settings.public_base_url)
        return built["handlers"]

    return run_grpc_service(
        "fees", settings, lambda db: [registration(handlers(db))],
        extra_workers=lambda db: [decision_consumer(handlers(db), db, settings.amqp_url,
                                                    prefetch=settings.consumer_prefetch)])


if __name__ == "__main__":
    sys.exit(main())
