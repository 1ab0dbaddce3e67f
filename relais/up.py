"""``relais up``: NATS and PostgreSQL (embedded unless ``NATS_URL`` / ``DATABASE_URL`` say
otherwise) and one process per service and the portal, kept running until Ctrl-C or
SIGTERM.

Everything it started is supervised alike (:mod:`relais.supervision`): a service, the
embedded nats-server or the embedded PostgreSQL that dies is restarted with the same
back-off, and said so on the output. The streams are created here, as the operator
(services only check them)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

from relais.embedded import EmbeddedPostgres, NatsServer
from relais.rebuild import RUN_FILE, write_run_file
from relais.supervision import (
    READY_TIMEOUT_S,
    Server,
    Service,
    StopFlag,
    Supervised,
    instances,
    say,
    stop_services,
    supervise,
    wait_ready,
)
from shared import integrators
from shared.config import PORTAL, PROCESSES, Settings
from shared.nats_accounts import ADMIN, accounts_config, load_or_create_passwords


def _fail(line: str) -> None:
    print(f"relais up: {line}", file=sys.stderr, flush=True)


def _hide_credentials(url: str) -> str:
    return re.sub(r"//[^/@,]*@", "//***@", url)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn does: a socket of the previous run lingering in TIME_WAIT is no conflict.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _shutdown(
    services: list[Service], nats: NatsServer | None, pg: EmbeddedPostgres | None
) -> None:
    # Services first, so none of them sees its servers vanish and logs errors on the way out.
    stop_services(services)
    for server in (nats, pg):
        if server is not None:
            try:
                server.stop()
            except Exception as exc:  # the next one must still be stopped
                _fail(f"stopping {type(server).__name__}: {exc!r}")


def _apply_streams(
    nats_url: str, settings: Settings, operator: tuple[str, str], *, external: bool
) -> bool:
    """Create the streams as the operator. With an external server whose operator account
    is not given, a refusal is only a warning: the services say whether the streams hold."""
    from relais.streams import apply_streams
    from shared.streams import StreamMisconfigured

    user, password = operator
    try:
        asyncio.run(
            apply_streams(
                nats_url,
                site=settings.site,
                user=user,
                password=password,
                replicas=settings.nats_replicas,
                duplicate_window_s=settings.duplicate_window_s,
                public_retention_s=settings.public_retention_days * 86_400.0,
            )
        )
    except StreamMisconfigured as exc:
        _fail(f"a stream cannot be made safe: {exc}")
        return False
    except Exception as exc:
        if not external:
            _fail(f"cannot create the streams: {type(exc).__name__}: {exc}")
            return False
        say(
            f"streams not applied ({type(exc).__name__}); run relais streams apply with the "
            "operator's credentials (RELAIS_OPERATOR_NATS_USER / _PASSWORD)"
        )
    return True


def embedded_nats(
    settings: Settings,
    passwords: dict[str, str],
    hub: str | None = None,
    credentials: object = None,
) -> NatsServer:
    """The embedded nats-server as relais up configures it (not started): a user per service
    allowed only its own subjects and consumers, an account per integrator; at a site linked
    to others, its domain and leaf node configuration."""
    from relais.consumers import service_consumers

    registry = integrators.load(settings.integrators_path)
    registered, everyone = registry.active(), list(registry.integrators.values())
    nats_dir = settings.data_dir / "nats"
    return NatsServer(
        nats_dir,
        port=settings.embedded_nats_port,
        accounts=accounts_config(settings.site, passwords, service_consumers(everyone), registered),
        **_site_server(settings, nats_dir, hub, credentials),
    )


def _site_server(
    settings: Settings, nats_dir: Path, hub: str | None, credentials: object
) -> dict[str, str]:
    """The embedded server's part in a set of sites: its own JetStream domain (the site's
    id) and, at a hub, the leaf node port for the offices; at an office, the link to the hub."""
    from relais.sites import (
        HubCredentials,
        hub_leaf_config,
        office_leaf_config,
        write_leaf_include,
    )

    (nats_dir / "leafnodes.conf").unlink(missing_ok=True)
    if isinstance(credentials, HubCredentials) and hub:
        include = write_leaf_include(nats_dir, office_leaf_config(hub, credentials))
    elif settings.leaf_port:
        include = write_leaf_include(
            nats_dir, hub_leaf_config(settings.leaf_host, settings.leaf_port)
        )
    else:
        return {}
    return {"jetstream_domain": settings.site, "extra_config": include}


def _link_here(
    nats_url: str,
    admin_password: str,
    settings: Settings,
    passwords: dict[str, str],
    credentials: object,
) -> bool:
    """Link this site's own streams (a local change, done even while the link is down): an
    office's source the hub's domain; a hub's source every office it gave a login to."""
    from relais.sites import (
        HubCredentials,
        admin_connect,
        link_at_hub,
        link_office_streams,
    )
    from shared.nats_accounts import leaf_users

    async def link() -> list[str]:
        nc = await admin_connect(nats_url, admin_password)
        try:
            if isinstance(credentials, HubCredentials):
                return await link_office_streams(
                    nc, settings.site, credentials.hub_site, credentials.sites
                )
            changed = []
            for office in leaf_users(passwords):
                changed += await link_at_hub(nc.jetstream(timeout=5), settings.site, office)
            return changed
        finally:
            await nc.close()

    try:
        changed = asyncio.run(link())
    except Exception as exc:
        _fail(f"cannot link the site's streams: {type(exc).__name__}: {exc}")
        return False
    if changed:
        say(f"site {settings.site}: streams linked ({', '.join(changed)})")
    return True


def run_up(
    data_dir: Path,
    *,
    site: str | None = None,
    hub: str | None = None,
    hub_credentials: Path | None = None,
) -> int:
    from relais.sites import HubCredentials, HubLinker, SiteError, check_site

    data_dir = data_dir.expanduser().resolve()
    settings = Settings().model_copy(update={"data_dir": data_dir})
    credentials: HubCredentials | None = None
    try:
        if site:
            settings = settings.model_copy(update={"site": check_site(site)})
        if hub or hub_credentials:
            if not (hub and hub_credentials):
                raise SiteError(
                    "--hub and --hub-credentials go together / --hub et --hub-credentials "
                    "vont ensemble"
                )
            if settings.nats_url:
                raise SiteError(
                    "--hub runs the embedded nats-server as a leaf node: unset NATS_URL / "
                    "--hub utilise le nats-server intégré : retirez NATS_URL"
                )
            credentials = HubCredentials.load(hub_credentials)
            if credentials.site != settings.site:
                raise SiteError(
                    f"the credentials are for site {credentials.site}, not {settings.site} / "
                    f"ces identifiants sont ceux du site {credentials.site}"
                )
    except SiteError as exc:
        _fail(str(exc))
        return 2
    linker: HubLinker | None = None
    if credentials is not None:
        from relais.sites import adopt_token_key

        said = adopt_token_key(settings.keys_dir, credentials)
        if said:
            say(said)
    stop = StopFlag()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    nats: NatsServer | None = None
    pg: EmbeddedPostgres | None = None
    services: list[Service] = []
    try:
        logs = data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        taken = [
            f"{name} ({settings.port_for(name)})"
            for name in PROCESSES
            if not _port_free(settings.host, settings.port_for(name))
        ]
        if taken:
            _fail(f"port already in use for {', '.join(taken)}; is relais already running?")
            return 1

        nats_url = settings.nats_url
        # The embedded server gives each service its own NATS user, allowed to publish only
        # to its own subjects and to use only its own consumers, and each integrator an
        # account of its own; an external server brings its own accounts (deploy/).
        passwords: dict[str, str] = {}
        operator = (settings.operator_nats_user, settings.operator_nats_password)
        if not nats_url:
            passwords = load_or_create_passwords(settings.nats_users_path)
            operator = (ADMIN, passwords[ADMIN])
            try:
                nats = embedded_nats(settings, passwords, hub, credentials).start()
            except Exception as exc:
                _fail(f"cannot start nats-server: {exc}")
                return 1
            nats_url = nats.url
        if not _apply_streams(nats_url, settings, operator, external=nats is None):
            return 1
        if nats is not None and (credentials is not None or settings.leaf_port):
            if not _link_here(nats_url, operator[1], settings, passwords, credentials):
                return 1
            if credentials is not None:
                linker = HubLinker(nats_url, operator[1], credentials, say).start()
        database_url = settings.database_url
        if not database_url:
            try:
                pg = EmbeddedPostgres(data_dir / "postgres").start()
                database_url = pg.url
            except Exception as exc:
                _fail(f"cannot start PostgreSQL: {exc!r}; see {data_dir / 'postgres' / 'log'}")
                return 1
        if stop.requested:
            return 0

        host = "127.0.0.1" if settings.host in ("", "0.0.0.0") else settings.host  # noqa: S104
        for name in PROCESSES:
            port = settings.port_for(name)
            env = {
                **os.environ,
                "RELAIS_DATA_DIR": str(data_dir),
                "RELAIS_SERVICE": name,
                "RELAIS_SITE": settings.site,
                "RELAIS_PORT": str(port),
                "NATS_URL": nats_url,
                "DATABASE_URL": database_url,
            }
            if passwords:
                env["RELAIS_NATS_USER"] = name
                env["RELAIS_NATS_PASSWORD"] = passwords[name]
            services += instances(name, f"http://{host}:{port}", env, logs, settings)
        for svc in services:
            svc.start()

        failed = wait_ready(services, stop)
        if stop.requested:
            return 0
        if failed is not None:
            code = failed.exit_code()
            why = (
                f"not healthy after {READY_TIMEOUT_S:.0f} s" if code is None else f"exited ({code})"
            )
            _fail(f"{failed.label} {why}; see {failed.log_path}")
            return 1

        # Where the other commands (relais rebuild) find the embedded servers while this runs
        # (external ones are the operator's to name: their URLs may hold passwords).
        write_run_file(
            data_dir,
            nats_url=nats_url if nats is not None else "",
            database_url=database_url if pg is not None else "",
        )
        width = max(len(name) for name in PROCESSES) + 2
        for name in PROCESSES:
            [url, *more] = [svc.url for svc in services if svc.name == name]
            say(f"{name:<{width}} {url}" + (f" ({len(more) + 1} instances)" if more else ""))
        where = "embedded" if pg is not None else "external (DATABASE_URL)"
        say(f"NATS {_hide_credentials(nats_url)}, PostgreSQL {where}, data in {data_dir}")
        if credentials is not None:
            say(f"site {settings.site}: leaf node of hub {credentials.hub_site} at {hub}")
        elif settings.leaf_port and nats is not None:
            say(
                f"site {settings.site}: offices connect to nats-leaf://{settings.leaf_host}:"
                f"{settings.leaf_port} (relais sites add SITE)"
            )
        portal = next(svc for svc in services if svc.name == PORTAL)
        say(
            f"Open {portal.url} to sign in / ouvrez {portal.url} pour vous connecter; "
            "first account / premier compte: relais user add --agency A --role agency_admin "
            "--email E"
        )
        say("Ctrl-C to stop")
        children: list[Supervised] = list(services)
        if nats is not None:
            children.append(Server("nats-server", nats, nats.data_dir / "nats-server.log"))
        if pg is not None:
            children.append(Server("postgresql", pg, pg.data_dir / "log"))
        supervise(children, stop)
        say("stopping")
        return 0
    finally:
        if linker is not None:
            linker.stop()
        (data_dir / RUN_FILE).unlink(missing_ok=True)
        _shutdown(services, nats, pg)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
