"""Every service's (and the portal's) durable consumers, from their own specs: the NATS
accounts allow each exactly these (NATS permissions cannot say "names starting with
intake_"). The reporting service's also depend on the integrators: each one's feed has its
own consumers on the log, and its consumer on PUBLIC; a revoked integrator's stay listed, so
that reporting may remove them (a name is never given again)."""

from __future__ import annotations

from collections.abc import Sequence

from relais.rebuild import load_spec
from services.reporting.app.public_feed import feed_consumers
from shared.config import PROCESSES
from shared.integrators import Integrator


def service_consumers(
    integrators: Sequence[Integrator] = (),
) -> dict[str, list[tuple[str, str]]]:
    found = {service: load_spec(service).consumers() for service in PROCESSES}
    for integrator in integrators:
        found["reporting"] = sorted({*found["reporting"], *feed_consumers(integrator.name)})
    return found
