"""python -m services.onboarding — the onboarding service process (composition root)."""

import sys

from services.onboarding.handlers import OnboardingHandlers
from services.onboarding.jobs import JobWorker
from services.onboarding.onboarder import CountyOnboarder
from services.onboarding.service import registration
from services.onboarding.settings import OnboardingSettings
from shared.clock import Clock
from shared.runner import ServiceParts, run_grpc_service


def main() -> int:
    settings = OnboardingSettings()
    clock = Clock.from_settings(settings)

    def idp():
        from keycloak import KeycloakAdmin

        return KeycloakAdmin(server_url=settings.oidc_server_url, realm_name=settings.oidc_realm,
                             client_id=settings.idp_admin_client_id,
                             client_secret_key=settings.idp_admin_client_secret)

    def compose(db) -> ServiceParts:
        from services.onboarding.clients import OwnersBackOffice
        from shared.auth import ServiceCredentials

        back_office = OwnersBackOffice(approval=settings.approval_target, fees=settings.fees_target,
                                       catalogue=settings.catalogue_target,
                                       service=ServiceCredentials.from_settings(settings, "onboarding"),
                                       timeout=settings.downstream_timeout_seconds)
        handlers = OnboardingHandlers(db, clock, CountyOnboarder(back_office, idp))
        return ServiceParts([registration(handlers)], [JobWorker(handlers, settings.job_poll_seconds)])

    return run_grpc_service("onboarding", settings, compose)


if __name__ == "__main__":
    sys.exit(main())
