"""gRPC servicer of the onboarding service: translate, call a handler, translate back. It consumes no events."""

from __future__ import annotations

from sanji.onboarding.v1 import onboarding_pb2 as pb
from sanji.onboarding.v1 import onboarding_pb2_grpc

from services.onboarding.handlers import OnboardingHandlers
from services.onboarding.translate import job_to_pb, uploads_in
from shared.grpc.server import Registration
from shared.messaging import On
from shared.tenancy import current_principal

PUBLIC_METHODS: tuple[str, ...] = ()
SUBSCRIPTIONS: tuple[On, ...] = ()


class OnboardingServicer(onboarding_pb2_grpc.OnboardingServiceServicer):
    def __init__(self, handlers: OnboardingHandlers):
        self.h = handlers

    def OnboardCounty(self, request, context):
        return job_to_pb(self.h.submit(current_principal(), request.county, uploads_in(request)))

    def GetJob(self, request, context):
        return job_to_pb(self.h.get(current_principal(), request.job_id))

    def ListJobs(self, request, context):
        jobs, total = self.h.list(current_principal(), request.limit, request.offset)
        return pb.ListJobsResponse(jobs=[job_to_pb(j) for j in jobs], total=total)

    def TakeCredentials(self, request, context):
        name, content = self.h.take_credentials(current_principal(), request.job_id)
        return pb.Document(content=content, content_type="text/csv; charset=utf-8", filename=name)


def registration(handlers: OnboardingHandlers) -> Registration:
    return Registration(servicer=OnboardingServicer(handlers),
                        add_to_server=onboarding_pb2_grpc.add_OnboardingServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["OnboardingService"].full_name,
                        public_methods=PUBLIC_METHODS)
