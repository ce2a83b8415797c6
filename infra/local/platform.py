"""Start and stop the platform's processes on loopback: the OIDC provider, the services, the gateway.

Used by `make run` and by the end-to-end tests, so both exercise the same processes the same way.
Each child is a process of its own, started with the settings in its environment, its output in
<run_dir>/logs/<name>.log, its PID in <run_dir>/pids; stop() ends only those PIDs.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared import registry

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("sanji.platform")


# every gRPC service of the platform, in start order, with its local port: shared/registry.py
SERVICE_PORTS = dict(registry.PORTS)


@dataclass
class Ports:
    """Where each process listens: the identity provider, the gateway and every registered service."""

    oidc: int = 8090
    gateway: int = 8000
    province: int = 15090        # the provincial platform simulator (infra/province), development only
    services: dict[str, int] = field(default_factory=lambda: dict(SERVICE_PORTS))

    def of(self, name: str) -> int:
        return self.services[name]

    @classmethod
    def free(cls) -> Ports:
        taken: set[int] = set()

        def one() -> int:
            port = free_listen_port(taken)
            taken.add(port)
            return port
        return cls(oidc=one(), gateway=one(), province=one(), services={name: one() for name in SERVICE_PORTS})


def free_listen_port(taken: set[int] = frozenset()) -> int:
    """A loopback port free now, BELOW Linux's ephemeral range (32768-60999): a port the kernel hands out (bind
    to 0) can be taken, before the child binds it, by an outgoing connection of a process started earlier —
    seen in CI as "fees exited with 1: Address already in use" on the end-to-end platform."""
    import random
    import socket

    for _ in range(1000):
        port = random.randrange(20000, 32768)
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port between 20000 and 32767")


ADMIN_CLIENT = "sanji-admin"


def new_service_secrets() -> dict[str, str]:
    """One random client secret per registered service, for one run: each service's own credential (client
    `sanji-<service>`, client-credentials grant), which internal gRPC methods require beside the person's."""
    return {name: secrets.token_urlsafe(32) for name in registry.NAMES}


@dataclass
class Platform:
    run_dir: Path
    env: dict[str, str]
    ports: Ports = field(default_factory=Ports)
    service_secrets: dict[str, str] = field(default_factory=new_service_secrets)
    # the identity provider's administrator client (`sanji-admin`): what `python -m infra.onboard` provisions
    # a county's staff with, through the provider's admin API (issue 23)
    admin_client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    # how each child was started, so the supervisor can start it again the same way
    _specs: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _supervisor: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    restarts: dict[str, int] = field(default_factory=dict)
    replica_ports: dict[str, list[int]] = field(default_factory=dict)   # service → ports of its extra copies

    @property
    def oidc_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.oidc}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def province_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.province}"

    def start_province(self) -> None:
        """The provincial platform simulator (development only: it signs with the repository's province key)."""
        self._spawn("province", ["-m", "infra.province", "--port", str(self.ports.province),
                                 "--county-url", self.gateway_url,
                                 "--receipt-log", str(self.run_dir / "province-receipts.jsonl")])
        self._wait_http("province", f"{self.province_url}/healthz")

    def target(self, service: str) -> str:
        """Where a service is reached: its port, or with replicas (start_replicas) one `ipv4:` list of every
        copy's port, which the clients' round_robin spreads their calls over (issue 22 item 5)."""
        extra = self.replica_ports.get(service)
        if extra:
            return "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in (self.ports.of(service), *extra))
        return f"127.0.0.1:{self.ports.of(service)}"

    def start_replicas(self, name: str, count: int) -> None:
        """Run `count` processes of a service in all (the one start_service started and count - 1 more, each
        `<name>-<i>` on a free port of its own); their consumers compete on the same queues."""
        ports = self.replica_ports.setdefault(name, [])
        while len(ports) < count - 1:
            port = free_listen_port({*self.ports.services.values(), *ports})
            copy = f"{name}-{len(ports) + 2}"
            self._spawn(copy, ["-m", registry.spec(name).module],
                        {"SANJI_GRPC_PORT": str(port), "SANJI_AMQP_URL": self.service_amqp_url(name),
                         "SANJI_SERVICE_CLIENT_SECRET": self.service_secrets[name]})
            self._wait_grpc(copy, f"127.0.0.1:{port}")
            ports.append(port)

    @property
    def catalogue_target(self) -> str:
        return self.target("catalogue")

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env.update({
            "SANJI_OIDC_SERVER_URL": self.oidc_url,
            "SANJI_PUBLIC_BASE_URL": self.gateway_url,
            "SANJI_DOCKING_PROVINCE_URL": self.province_url,
            **{f"SANJI_{spec.target_setting.upper()}": self.target(spec.name) for spec in registry.SERVICES},
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def _spawn(self, name: str, args: list[str], extra_env: dict[str, str | None] | None = None) -> None:
        logs = self.run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = self.child_env()
        for key, value in (extra_env or {}).items():
            if value is None:
                env.pop(key, None)                        # a setting this child must not hold
            else:
                env[key] = value
        out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 — the child keeps it
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        with self._lock:
            self._specs[name] = (list(args), dict(extra_env or {}))
            self.procs[name] = proc
            self._write_pids()

    def start_process(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> None:
        """Any child of this platform (tests of the supervisor use a plain Python one)."""
        self._spawn(name, args, extra_env)

    # -- supervision (make run): a child that dies is started again, with backoff ------------------------
    def supervise(self, *, interval: float = 0.5, first_backoff: float = 1.0, max_backoff: float = 30.0,
                  healthy_after: float = 60.0) -> None:
        """Watch the children in a background thread: one that exits while the platform is not stopping is
        logged by name with its exit code and started again after a backoff that doubles up to
        `max_backoff`, and falls back to `first_backoff` once the child has run `healthy_after` seconds."""
        state: dict[str, tuple[float, float]] = {}       # name → (backoff, started at)

        def watch() -> None:
            while not self._stopping.wait(interval):
                with self._lock:
                    dead = [(n, p) for n, p in self.procs.items() if p.poll() is not None]
                for name, proc in dead:
                    backoff, started = state.get(name, (first_backoff, 0.0))
                    if started and time.monotonic() - started >= healthy_after:
                        backoff = first_backoff
                    log.error("process %s (pid %d) died with exit code %s; restarting in %.2f s",
                              name, proc.pid, proc.returncode, backoff)
                    if self._stopping.wait(backoff):
                        return
                    with self._lock:
                        if self.procs.get(name) is not proc:
                            continue                      # stopped or replaced meanwhile
                        args, extra = self._specs[name]
                        self.restarts[name] = self.restarts.get(name, 0) + 1
                        self._spawn(name, args, extra)
                        log.warning("process %s restarted (pid %d, restart %d)", name, self.procs[name].pid,
                                    self.restarts[name])
                    state[name] = (min(backoff * 2, max_backoff), time.monotonic())

        self._supervisor = threading.Thread(target=watch, name="platform-supervisor", daemon=True)
        self._supervisor.start()

    def _write_pids(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # whole or not at all: `make stop` (or a reader) never meets a file half written by a restart
        tmp = self.run_dir / "pids.tmp"
        tmp.write_text(json.dumps({n: p.pid for n, p in self.procs.items()}))
        os.replace(tmp, self.run_dir / "pids")

    def start_oidc(self, users_file: Path | None = None) -> None:
        """The identity provider, with this run's client table of the services (a file only this user reads)."""
        clients = self.run_dir / "service-clients.json"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        clients.touch(mode=0o600)
        clients.chmod(0o600)
        clients.write_text(json.dumps({f"sanji-{n}": s for n, s in self.service_secrets.items()}), encoding="utf-8")
        admins = self.run_dir / "admin-clients.json"
        admins.touch(mode=0o600)
        admins.chmod(0o600)
        admins.write_text(json.dumps({ADMIN_CLIENT: self.admin_client_secret}), encoding="utf-8")
        secret_file = self.run_dir / "idp-admin-secret"          # for `python -m infra.onboard --idp-admin-secret-file`
        secret_file.touch(mode=0o600)
        secret_file.chmod(0o600)
        secret_file.write_text(self.admin_client_secret, encoding="utf-8")
        args = ["-m", "infra.oidc", "--port", str(self.ports.oidc), "--service-clients", str(clients),
                "--admin-clients", str(admins)]
        if users_file:
            args += ["--users", str(users_file)]
        self._spawn("oidc", args)
        self._wait_http("oidc", f"{self.oidc_url}/healthz")

    def service_amqp_url(self, name: str) -> str:
        """The broker as the service's own user (made by the bootstrap), on the vhost this platform uses."""
        from urllib.parse import urlsplit, urlunsplit

        from infra.local.bootstrap import DEV_BROKER_PASSWORD
        from shared.messaging.topology import broker_user

        base = urlsplit(self.child_env().get("SANJI_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/%2F")
        netloc = f"{broker_user(name)}:{DEV_BROKER_PASSWORD}@{base.hostname}:{base.port or 5672}"
        return urlunsplit((base.scheme, netloc, base.path, base.query, base.fragment))

    def start_service(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        """A service with its own client secret and its own broker user (and no other service's)."""
        # the identity provider's administrator client: the onboarding service's alone (issue 23)
        admin = {"SANJI_IDP_ADMIN_CLIENT_SECRET": self.admin_client_secret} if name == "onboarding" else {}
        # a service with a database role of its own (the registry's database_role) connects as that role
        own = {}
        if registry.spec(name).database_role:
            from infra.local.bootstrap import service_database_url
            from shared.config import PlatformSettings

            app_url = (self.child_env().get("SANJI_DATABASE_URL")
                       or PlatformSettings.model_fields["database_url"].default)
            own = {"SANJI_DATABASE_URL": service_database_url(app_url, name)}
        self._spawn(name, ["-m", registry.spec(name).module],
                    {"SANJI_GRPC_PORT": str(self.ports.of(name)), "SANJI_AMQP_URL": self.service_amqp_url(name),
                     "SANJI_SERVICE_CLIENT_SECRET": self.service_secrets[name], **admin, **own,
                     **(extra_env or {})})
        self._wait_grpc(name, self.target(name))

    def restart_service(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        """Stop a service and start it again (e.g. with another drill date)."""
        self.stop_one(name)
        self.start_service(name, extra_env)

    def start_catalogue(self) -> None:
        self.start_service("catalogue")

    def start_services(self) -> None:
        """Every service of the registry, in its order."""
        for name in SERVICE_PORTS:
            self.start_service(name)

    def start_gateway(self) -> None:
        # the internet-facing edge holds no database or broker credentials at all
        self._spawn("gateway", ["-m", "gateway"], {"SANJI_HTTP_PORT": str(self.ports.gateway),
                                                   "SANJI_DATABASE_URL": None, "SANJI_DATABASE_OWNER_URL": None,
                                                   "SANJI_AMQP_URL": None})
        self._wait_http("gateway", f"{self.gateway_url}/healthz")

    def _check_alive(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is not None:
            tail = (self.run_dir / "logs" / f"{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def _wait_http(self, name: str, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{name} not ready at {url} after {timeout}s")

    def _wait_grpc(self, name: str, target: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(target) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            while time.monotonic() < deadline:
                self._check_alive(name)
                try:
                    r = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                    if r.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        raise TimeoutError(f"{name} not serving on {target} after {timeout}s")

    def stop_one(self, name: str, timeout: float = 15) -> None:
        with self._lock:
            proc = self.procs.pop(name, None)
            self._specs.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._write_pids()

    def stop(self) -> None:
        self._stopping.set()                              # the supervisor restarts nothing from now on
        if self._supervisor is not None:
            self._supervisor.join(5)
        for name in reversed(list(self.procs)):
            self.stop_one(name)


def _ours(pid: int) -> bool:
    """A live Python process running from this checkout (not a reused PID)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        cwd = Path(f"/proc/{pid}/cwd").resolve().as_posix()
    except OSError:
        return False
    return "python" in cmdline and cwd.startswith(str(ROOT))


def _terminate(pid: int, timeout: float = 20) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def stop_recorded(run_dir: Path) -> list[str]:
    """Stop what a previous `make run` started (and only that): first the runner, which stops its
    children in order; then any child it left behind."""
    stopped = []
    runner_file = run_dir / "runner.pid"
    if runner_file.exists():
        pid = int(runner_file.read_text() or 0)
        if pid and pid != os.getpid() and _ours(pid):
            _terminate(pid, timeout=40)
            stopped.append("runner")
        runner_file.unlink(missing_ok=True)
    pids_file = run_dir / "pids"
    if pids_file.exists():
        for name, pid in json.loads(pids_file.read_text() or "{}").items():
            if _ours(pid):
                _terminate(pid)
                stopped.append(name)
        pids_file.unlink(missing_ok=True)
    return stopped
