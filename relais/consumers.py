"""Every service's durable consumers, from the services' own specs: the NATS accounts allow
each service exactly these (NATS permissions cannot say "names starting with intake_")."""

from __future__ import annotations

from relais.rebuild import load_spec
from shared.config import SERVICES


def service_consumers() -> dict[str, list[tuple[str, str]]]:
    return {service: load_spec(service).consumers() for service in SERVICES}
