"""python -m gateway — the REST edge process."""

import logging
import sys

import uvicorn

from gateway.app import create_app, instrument
from gateway.settings import GatewaySettings
from shared.runner import configure_logging, settle_heap
from shared.telemetry import setup_telemetry


def main() -> int:
    settings = GatewaySettings()
    configure_logging(settings.log_level)
    setup_telemetry("gateway", settings.otel_exporter, settings.otel_endpoint)
    app = create_app(settings)
    instrument(app)
    settle_heap()       # what startup built stays out of the collector's full collections (shared.runner)
    logging.getLogger("sanji.gateway").info("gateway on http://%s:%d", settings.http_host, settings.http_port)
    # uvicorn would believe X-Forwarded-For/-Proto from any peer on 127.0.0.1 (so from every client of a
    # loopback gateway); the gateway reads them itself, from its configured trusted proxies only
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="warning", access_log=False,
                proxy_headers=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
