"""Every service's (and the portal's) durable consumers, from their own specs: the NATS
accounts allow each exactly these (NATS permissions cannot say "names starting with
intake_")."""

from __future__ import annotations

from relais.rebuild import load_spec
from shared.config import PROCESSES


def service_consumers() -> dict[str, list[tuple[str, str]]]:
    return {service: load_spec(service).consumers() for service in PROCESSES}
