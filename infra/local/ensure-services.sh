#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ answer on 127.0.0.1. Uses them when they already run;
# installs them from Debian's packages and starts them when they do not. Idempotent.
set -euo pipefail

log() { printf '[services] %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && exec 3>&- ; }
wait_port() { # port seconds
  for _ in $(seq 1 "$2"); do port_open "$1" && return 0; sleep 1; done; return 1
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL ----------------------------------------------------------------------------
if port_open 5432; then
  log "PostgreSQL is running on 127.0.0.1:5432"
else
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "installing PostgreSQL from Debian packages"
    apt_install postgresql postgresql-contrib
  fi
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  log "starting PostgreSQL $ver"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  wait_port 5432 60 || { log "PostgreSQL did not come up on 5432"; exit 1; }
fi

# --- RabbitMQ ------------------------------------------------------------------------------
if port_open 5672; then
  log "RabbitMQ is running on 127.0.0.1:5672"
else
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    log "installing RabbitMQ from Debian packages"
    apt_install rabbitmq-server
  fi
  log "starting RabbitMQ"
  as_root rabbitmq-server -detached || true
  wait_port 5672 90 || { log "RabbitMQ did not come up on 5672"; exit 1; }
fi

# --- The font printable documents embed (shared/pdf.py) ---------------------------------------
# Not a service, but what `make run` and `make test` need the same way: without it every PDF falls
# back to a font the reader's viewer must supply.
if [ -f /usr/share/fonts/truetype/arphic/uming.ttc ]; then
  log "document font: AR PL UMing (fonts-arphic-uming) is installed"
else
  log "installing the document font from Debian packages (fonts-arphic-uming)"
  apt_install fonts-arphic-uming || log "could not install fonts-arphic-uming: PDFs will not embed their font"
fi

# --- The browser the browser tests drive (tests/browser: Playwright with Debian's chromium) -----------------
# Playwright's own browser download is not used: the tests launch /usr/bin/chromium.
if command -v chromium >/dev/null 2>&1; then
  log "browser: chromium is installed"
else
  log "installing chromium from Debian packages (for the browser tests)"
  apt_install chromium || log "could not install chromium: the browser tests will fail"
fi
