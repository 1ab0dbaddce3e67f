"""Settings, read once from the environment (every variable starts with ``RELAIS_`` except the
two server URLs, which keep the names operators already know)."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The domain services: each owns a context of the log, an HTTP API guarded by its permission
# table, and a database of read models.
SERVICES: tuple[str, ...] = ("intake", "referral", "casework", "reporting")
# The web application people use: a client of the services' APIs (with the signed-in user's
# own token), with no permission table of its own; it writes only account events on AUDIT.
PORTAL = "portal"
# Every process ``relais up`` starts, each with its own NATS user, database and signing key.
PROCESSES: tuple[str, ...] = (*SERVICES, PORTAL)
DEFAULT_PORTS: dict[str, int] = {
    "intake": 8001,
    "referral": 8002,
    "casework": 8003,
    "reporting": 8004,
    PORTAL: 8000,
}
# Commands one service process runs at once (shared/shedding.py; decision 0026): intake
# spends about 7 ms of its one core per registration, so 32 waiting is about a quarter of a
# second of queue, within the 300 ms a hotline's answer may take.
COMMANDS_IN_FLIGHT = 32
MAX_INSTANCES = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELAIS_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".relais"), description="Where keys and embedded servers live"
    )
    site: str = Field(
        default="hq", pattern=r"^[a-z][a-z0-9_]{0,31}$", description="This instance's site id"
    )
    service: str = Field(default="", description="Which service this process runs")
    instance: str = Field(default="1", description="Instance name, to tell replicas apart")
    debug: bool = Field(
        default=False, description="A failing relais command shows its traceback (RELAIS_DEBUG)"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=0, description="This process's port (set by relais up)")
    intake_port: int = DEFAULT_PORTS["intake"]
    referral_port: int = DEFAULT_PORTS["referral"]
    casework_port: int = DEFAULT_PORTS["casework"]
    reporting_port: int = DEFAULT_PORTS["reporting"]
    portal_port: int = DEFAULT_PORTS[PORTAL]
    embedded_nats_port: int = Field(
        default=14222, description="Port of the embedded nats-server (4222 is often taken)"
    )
    # A hub: the embedded nats-server's leaf node port for regional offices (0: closed).
    leaf_port: int = Field(default=0, ge=0, le=65535, description="Leaf node port for offices")
    leaf_host: str = Field(default="0.0.0.0", description="Address of the leaf node port")  # noqa: S104

    nats_url: str = Field(
        default="",
        validation_alias=AliasChoices("NATS_URL", "RELAIS_NATS_URL"),
        description="External NATS; empty means the embedded server",
    )
    nats_user: str = ""
    nats_password: str = ""
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("DATABASE_URL", "RELAIS_DATABASE_URL"),
        description="External PostgreSQL server; each service uses its own database on it",
    )

    database_prefix: str = Field(
        default="relais_",
        pattern=r"^[a-z][a-z0-9_]{0,40}$",
        description="Each service's database is <prefix><service> on the PostgreSQL server",
    )
    duplicate_window_s: float = Field(default=86_400.0, gt=0)
    nats_replicas: int = Field(default=1, ge=1, le=5)
    projector_batch: int = Field(default=500, ge=1, le=10_000)
    # How long a projector waits for more events after a small batch, unless a request waits
    # for it (shared/projector.py): fewer, larger transactions under a steady flow.
    projector_linger_ms: int = Field(default=100, ge=0, le=5_000)
    read_your_writes_timeout_s: float = Field(default=5.0, gt=0)
    log_outage_wait_s: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="How long a command whose append the log left unanswered waits for the "
        "log to come back and settle it (stored or not) before answering 504",
    )
    checkpoint_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="How often a service anchors its own stream's head on AUDIT",
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest request body a route accepts"
    )
    # Overload is shed early (shared/shedding.py): at most this many commands (writes) run
    # at once in one process of the service; the excess is answered 503 at once.
    intake_commands_in_flight: int = Field(default=COMMANDS_IN_FLIGHT, ge=1, le=10_000)
    referral_commands_in_flight: int = Field(default=COMMANDS_IN_FLIGHT, ge=1, le=10_000)
    casework_commands_in_flight: int = Field(default=COMMANDS_IN_FLIGHT, ge=1, le=10_000)
    reporting_commands_in_flight: int = Field(default=COMMANDS_IN_FLIGHT, ge=1, le=10_000)
    # How many processes ``relais up`` runs of each service on its one port (decision 0034):
    # a service process is one Python thread, so one core at most.
    intake_instances: int = Field(default=1, ge=1, le=MAX_INSTANCES)
    referral_instances: int = Field(default=1, ge=1, le=MAX_INSTANCES)
    casework_instances: int = Field(default=1, ge=1, le=MAX_INSTANCES)
    reporting_instances: int = Field(default=1, ge=1, le=MAX_INSTANCES)
    reuse_port: bool = Field(
        default=False,
        description="Share the port with the service's other instances on this machine "
        "(Linux SO_REUSEPORT: the kernel spreads new connections among them)",
    )
    metrics_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("PROMETHEUS_MULTIPROC_DIR"),
        description="Where the instances sharing a port keep their counters, so that a scrape "
        "of /metrics sums them all (prometheus-client's multiprocess mode; relais up sets it)",
    )
    operator_nats_user: str = Field(
        default="",
        description="NATS user that creates the streams (relais up / relais streams apply "
        "with an external server)",
    )
    operator_nats_password: str = ""

    jwks_url: str = Field(default="", description="Identity provider's JWKS (production)")
    jwks_file: Path | None = Field(default=None, description="A JWKS file instead of a URL")
    jwt_issuer: str = Field(default="", description="Expected `iss` of tokens, if set")
    jwt_audience: str = Field(default="", description="Expected `aud` of tokens, if set")

    bench_results: Path = Field(
        default=Path("bench/results"), description="Where relais bench writes its figures"
    )

    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otel_endpoint: str = ""
    log_level: str = "INFO"

    time_zone: str = Field(
        default="Africa/Porto-Novo",
        description="The country's time zone (IANA name): opening hours and 'open now' are "
        "read in it",
    )
    referral_due_hours_emergency: float = Field(
        default=24.0,
        description="Hours a receiving unit has to accept or decline an emergency referral",
    )
    referral_due_hours_high: float = Field(
        default=72.0, description="Hours to accept or decline a high-urgency referral"
    )
    referral_due_hours_normal: float = Field(
        default=168.0, description="Hours to accept or decline a normal referral (7 days)"
    )
    referral_escalate_after_hours: float = Field(
        default=24.0,
        description="Hours an overdue referral waits before it is escalated to the receiving "
        "unit's supervisor",
    )
    referral_reservation_grace_minutes: float = Field(
        default=10.0,
        description="Minutes after which a place reserved for a referral that is not accepted "
        "(or an accepted referral holding no place) is put right by the capacity sweep",
    )

    # -- the portal (the web application) ------------------------------------------------------
    portal_url: str = Field(
        default="",
        description="The portal's public address, for the set-up links it hands out "
        "(default http://127.0.0.1:<portal port>)",
    )
    intake_url: str = Field(default="", description="Where the portal reaches intake's API")
    referral_url: str = Field(default="", description="Where the portal reaches referral's API")
    casework_url: str = Field(default="", description="Where the portal reaches casework's API")
    reporting_url: str = Field(default="", description="Where the portal reaches reporting's API")
    portal_session_idle_minutes: float = Field(
        default=30.0, gt=0, le=24 * 60, description="A session unused this long ends"
    )
    portal_session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="A session ends this long after sign-in"
    )
    portal_lockout_after: int = Field(
        default=5, ge=2, le=100, description="Failed sign-ins in a row that lock the account"
    )
    portal_lockout_minutes: float = Field(
        default=15.0, gt=0, le=24 * 60, description="How long a locked account stays locked"
    )
    portal_backoff_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Wait after the second failed sign-in, doubled at each further failure",
    )
    portal_setup_link_hours: float = Field(
        default=72.0, gt=0, le=24 * 30, description="How long a set-up or reset link works"
    )
    portal_secure_cookies: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Secure cookies: auto (when the request came over HTTPS, also behind a "
        "proxy that says so), always, or never",
    )
    portal_service_timeout_s: float = Field(
        default=15.0, gt=0, le=300, description="How long the portal waits for a service"
    )
    oidc_issuer: str = Field(
        default="",
        description="Production sign-in: the OpenID Connect provider the services trust "
        "(empty: local accounts)",
    )
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid profile email"

    locations_file: Path | None = Field(
        default=None,
        description="The location hierarchy (departments, communes) as JSON; default: Benin",
    )
    competencies_file: Path | None = Field(
        default=None, description="The competency frameworks as JSON; default: IBCR"
    )
    casework_standards_file: Path | None = Field(
        default=None,
        description="Casework's stage deadlines per urgency and the competencies a case needs "
        "(JSON); default: services/casework/standards.json",
    )
    names_file: Path | None = Field(
        default=None,
        description="The names the duplicate matcher knows (variants, short forms, twins' "
        "names...); empty means Benin's, shipped with Relais",
    )
    matcher_learning_interval_s: float = Field(
        default=900.0,
        gt=0,
        description="Seconds between two estimations of the duplicate matcher's weights from "
        "the confirmed and rejected suggestions (also done at start)",
    )
    matcher_min_decisions: int = Field(
        default=20,
        ge=1,
        description="Confirmed and rejected suggestions needed before the matcher's weights "
        "are estimated from them (the defaults are used until then)",
    )

    report_revision_days: int = Field(
        default=90,
        description="Days after a periodic statistical report is published during which it is "
        "revised when late events change its figures (0: never revised)",
    )

    integrators_file: Path | None = Field(
        default=None,
        description="The integrators' registry (relais integrators); default "
        "<data dir>/integrators.json",
    )
    nats_accounts_file: Path | None = Field(
        default=None,
        description="The NATS accounts file relais integrators rewrites; default the embedded "
        "server's <data dir>/nats/accounts.conf",
    )
    integrators_poll_s: float = Field(
        default=2.0, gt=0, le=300, description="How often reporting rereads the registry"
    )
    public_retention_days: int = Field(
        default=0,
        ge=0,
        le=36_600,
        description="Days the PUBLIC stream keeps integrators' events (0: forever)",
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="How long a webhook endpoint may take to answer"
    )
    webhook_retry_hours: float = Field(
        default=72.0,
        gt=0,
        le=24 * 366,
        description="How long a failing webhook delivery is retried before it is listed as failed",
    )
    webhook_first_retry_s: float = Field(
        default=5.0, gt=0, le=3600, description="The first retry's delay; it doubles each time"
    )
    webhook_max_backoff_s: float = Field(
        default=6 * 3600.0, gt=0, le=7 * 86400, description="The longest delay between retries"
    )

    @field_validator(
        "referral_due_hours_emergency",
        "referral_due_hours_high",
        "referral_due_hours_normal",
        "referral_escalate_after_hours",
    )
    @classmethod
    def _positive_hours(cls, value: float, info: ValidationInfo) -> float:
        # A year at most: beyond it a deadline is surely a typo, and timedelta would overflow.
        return _positive(value, info, "hours", 24 * 366)

    @field_validator("referral_reservation_grace_minutes")
    @classmethod
    def _positive_minutes(cls, value: float, info: ValidationInfo) -> float:
        return _positive(value, info, "minutes", 60 * 24 * 7)

    @field_validator("report_revision_days", mode="before")
    @classmethod
    def _revision_days(cls, value: object) -> int:
        # Before pydantic's own parsing, so that a word instead of a number is also refused
        # with the variable's name.
        most = 3660  # ten years: beyond it surely a typo
        try:
            days = int(str(value).strip())
        except ValueError:
            days = -1
        if not 0 <= days <= most:
            raise ValueError(
                f"RELAIS_REPORT_REVISION_DAYS must be a whole number of days from 0 (never "
                f"revise) to {most} (got {value!r})"
            )
        return days

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, ZoneInfoNotFoundError):
            raise ValueError(
                f"RELAIS_TIME_ZONE: unknown time zone {value!r}; give an IANA name such as "
                "Africa/Porto-Novo (the system needs a time zone database, e.g. tzdata)"
            ) from None
        return value

    def port_for(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))

    def commands_in_flight_for(self, service: str) -> int:
        """``RELAIS_<SERVICE>_COMMANDS_IN_FLIGHT``: how many commands one process of
        ``service`` runs at once before it sheds the excess."""
        return int(getattr(self, f"{service}_commands_in_flight", COMMANDS_IN_FLIGHT))

    def instances_for(self, service: str) -> int:
        """``RELAIS_<SERVICE>_INSTANCES``: how many processes of ``service`` ``relais up``
        runs, sharing its port (the portal: one)."""
        return int(getattr(self, f"{service}_instances", 1))

    def local_host(self) -> str:
        """The address to reach a process listening on ``host`` from this machine."""
        return "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host  # noqa: S104

    def service_url(self, service: str) -> str:
        """Where the portal reaches ``service``'s API: ``RELAIS_<SERVICE>_URL``, else the
        port ``relais up`` gives it on this machine."""
        configured = str(getattr(self, f"{service}_url", "") or "")
        return (configured or f"http://{self.local_host()}:{self.port_for(service)}").rstrip("/")

    @property
    def public_portal_url(self) -> str:
        return (self.portal_url or f"http://{self.local_host()}:{self.portal_port}").rstrip("/")

    def database_url_for(self, service: str) -> str:
        """The SQLAlchemy URL of ``service``'s own database on the configured server."""
        if not self.database_url:
            raise RuntimeError(
                "DATABASE_URL is not set (relais up sets it for the embedded server)"
            )
        return with_database(self.database_url, f"{self.database_prefix}{service}")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def integrators_path(self) -> Path:
        return self.integrators_file or self.data_dir / "integrators.json"

    @property
    def nats_accounts_path(self) -> Path:
        return self.nats_accounts_file or self.data_dir / "nats" / "accounts.conf"

    def nats_login(self) -> tuple[str | None, str | None]:
        """The NATS user and password as set; a user named without a password takes its own
        from the password file of ``relais nats-accounts`` (the compose file names each
        service's user and shares that file, so no password is written twice)."""
        if self.nats_user and not self.nats_password and self.nats_users_path.exists():
            import json

            stored: dict[str, str] = json.loads(self.nats_users_path.read_text())
            return self.nats_user, stored.get(self.nats_user)
        return self.nats_user or None, self.nats_password or None

    @property
    def nats_users_path(self) -> Path:
        """The services' NATS passwords (created by relais up or relais nats-accounts)."""
        return self.data_dir / "nats" / "users.json"


def _positive(value: float, info: ValidationInfo, unit: str, most: float) -> float:
    if not math.isfinite(value) or value <= 0 or value > most:
        variable = f"RELAIS_{(info.field_name or '').upper()}"
        raise ValueError(
            f"{variable} must be a positive number of {unit}, at most {most:g} (got {value:g})"
        )
    return value


def with_database(url: str, database: str) -> str:
    """Replace the database of a PostgreSQL URL, keeping its query string, and make it asyncpg."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.set(database=database).render_as_string(hide_password=False)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
