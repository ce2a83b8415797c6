"""python -m services.fees — the fees service process (gRPC and its case_decided consumer)."""

import datetime as dt
import sys

from services.fees.handlers import FeesHandlers
from services.fees.payment_handlers import CallbackLimits, ProvinceKeys
from services.fees.service import event_consumer, registration
from services.fees.settings import FeesSettings
from services.fees.signing import Signer, Verifier
from services.fees.translate import EventsOut
from shared.clock import Clock
from shared.grpc.provinces import GrpcProvinces
from shared.provinces import ProvinceBook
from shared.runner import ServiceParts, run_grpc_service


def main() -> int:
    settings = FeesSettings()

    def compose(db) -> ServiceParts:
        """The handlers, built once, behind the gRPC servicer and the consumer of approval's case_decided."""
        provinces = GrpcProvinces(settings.catalogue_target, timeout=settings.catalogue_timeout_seconds)
        handlers = FeesHandlers(
            db, province=ProvinceKeys(Verifier(settings.fees_province_public_key),
                                      {r: Verifier(k) for r, k in settings.fees_payment_key_sets.items()},
                                      ProvinceBook(provinces, ttl=settings.fees_province_record_seconds)),
            receipt_signer=Signer(settings.fees_receipt_private_key, settings.fees_receipt_public_key),
            events_out=EventsOut(), clock=Clock.from_settings(settings), public_base_url=settings.public_base_url,
            limits=CallbackLimits(clock_skew=dt.timedelta(seconds=settings.fees_paid_at_clock_skew_seconds),
                                  rejection_body_bytes=settings.fees_rejection_body_bytes,
                                  rejections_stored_per_minute=settings.fees_rejections_stored_per_minute),
            verification_code_length=settings.fees_verification_code_length)
        return ServiceParts([registration(handlers)],
                            [event_consumer(handlers, db, settings.amqp_url, prefetch=settings.consumer_prefetch)])

    return run_grpc_service("fees", settings, compose)


if __name__ == "__main__":
    sys.exit(main())
