"""Two bootstraps on one machine (`make volume` beside `make bench`, say) may both find a broker user missing
and both add it: the second `rabbitmqctl add_user` exits 70 ("already exists"), and that is the state both
wanted, not a failure (issue 22's 1,000,000-case fill died on it at start). Run against the real broker, through
a rabbitmqctl that hides the users when listing them, as the other bootstrap's add would have."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from infra.local import bootstrap
from shared.messaging import topology


@pytest.fixture
def ctl() -> str:
    found = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    if subprocess.run([found, "-q", "list_users"], capture_output=True).returncode != 0:
        pytest.fail("rabbitmqctl does not answer: the integration tests need the local RabbitMQ")
    return found


def test_a_user_added_by_another_bootstrap_meanwhile_is_taken_as_there(ctl, tmp_path, monkeypatch):
    monkeypatch.setattr(bootstrap, "NAMES", ("approval",))   # one service's user: each rabbitmqctl call is a second
    vhost = "sanji_bootstrap_race"
    bootstrap._ensure_own_vhost(ctl, vhost, recreate=True)
    try:
        listed = subprocess.run([ctl, "-q", "list_users"], capture_output=True, text=True).stdout.split()
        if not all(topology.broker_user(s) in listed for s in bootstrap.NAMES):
            bootstrap.ensure_broker_users(ctl, vhost)        # every service's user exists from here on
        stale = tmp_path / "rabbitmqctl"
        stale.write_text(f'#!/bin/sh\nif [ "$2" = list_users ]; then exit 0; fi\nexec {ctl} "$@"\n')
        stale.chmod(0o755)
        bootstrap.ensure_broker_users(str(stale), vhost)     # each add_user now says "already exists"
        perms = subprocess.run([ctl, "-q", "list_permissions", "-p", vhost], capture_output=True, text=True).stdout
        assert topology.broker_user("approval") in perms
    finally:
        subprocess.run([ctl, "-q", "delete_vhost", vhost], capture_output=True)


def test_another_failure_of_add_user_still_stops_the_bootstrap(ctl, tmp_path):
    broken = tmp_path / "rabbitmqctl"
    broken.write_text('#!/bin/sh\nif [ "$2" = list_users ]; then exit 0; fi\necho "Error: nodedown" >&2\nexit 69\n')
    broken.chmod(0o755)
    with pytest.raises(subprocess.CalledProcessError):
        bootstrap.ensure_broker_users(str(broken), "sanji_bootstrap_race")
