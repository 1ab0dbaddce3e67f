"""Regional offices with no code to write (``relais sites``, ``relais up --site --hub``).

The hub (``RELAIS_LEAF_PORT`` set) runs its embedded nats-server in a JetStream domain named
after its site and opens a leaf node port. ``relais sites add parakou`` gives the office a
login at the hub (``leaf_parakou`` in the NATS users file, so every rewrite of the accounts
keeps it, and the running server reloads it) and writes the office's credentials file. At the
office, ``relais up --site parakou --hub nats-leaf://HOST:7422 --hub-credentials FILE`` runs
its nats-server as a leaf node of the hub, in a domain of its own (``parakou``): the office
keeps working while the link is down. Its streams listen only on its own subjects; each of
them sources the other sites' subjects from the hub's domain, and the hub's streams source
the office's (``shared.sites.link_sites``, idempotent), which ``relais up`` does at the
office as soon as the hub answers and ``relais sites link parakou`` does at the hub.

The domain of a site's server is the site's own id, so the hub's is ``hq`` by default."""

from __future__ import annotations

# relais/up.py imports these from here: the names it uses stay importable from this module.
from relais.site_links import (
    HubLinker,
    admin_connect,
    link_at_hub,
    link_hub_from_office,
    link_office_streams,
    sites_sourced,
)
from relais.site_setup import (
    HubCredentials,
    SiteError,
    add_site,
    adopt_token_key,
    check_site,
    hub_leaf_config,
    office_leaf_config,
    write_leaf_include,
)
from relais.site_status import SourceState, StreamState, format_status, sites_status

__all__ = [
    "HubCredentials",
    "HubLinker",
    "SiteError",
    "SourceState",
    "StreamState",
    "add_site",
    "admin_connect",
    "adopt_token_key",
    "check_site",
    "format_status",
    "hub_leaf_config",
    "link_at_hub",
    "link_hub_from_office",
    "link_office_streams",
    "office_leaf_config",
    "sites_sourced",
    "sites_status",
    "write_leaf_include",
]
