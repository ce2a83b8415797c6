# One image for every process of the platform: each k8s Deployment runs `python -m <module>` from it
# (services.<name> for a service of shared/registry.py, gateway, infra.migrate for the migration Job).
#
#   docker build -t registry.example.gov.cn/sanji/sanji:0.1.0 .
#
# Slim Debian with Python 3.11 (the version the project pins), the pinned dependencies of pyproject.toml,
# the protobuf code generated at build time (gen/ is never committed), and the Song face every printable
# document embeds (Debian's fonts-arphic-uming, as `make run` installs it). It runs as an unprivileged user.
FROM python:3.11-slim-bookworm AS build
WORKDIR /app
COPY pyproject.toml ./
# the dependencies only (the project's own code runs from /app, put on the path below)
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check .
COPY proto ./proto
COPY infra/local/gen_proto.py ./infra/local/gen_proto.py
RUN /opt/venv/bin/python infra/local/gen_proto.py

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-arphic-uming \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin sanji
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app/gen ./gen
COPY shared ./shared
COPY services ./services
COPY gateway ./gateway
COPY infra ./infra
COPY proto ./proto
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/gen \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SANJI_MODE=production
USER 10001
# the default command is the gateway; every Deployment names its own module
CMD ["python", "-m", "gateway"]
