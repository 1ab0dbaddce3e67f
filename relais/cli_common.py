"""What the ``relais`` command modules share: the data folder option and the NATS login."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="RELAIS_DATA_DIR",
        help="Where embedded servers, keys and logs live.",
    ),
]
Site = Annotated[str, typer.Option(envvar="RELAIS_SITE", help="This site's id.")]
Replicas = Annotated[int, typer.Option(envvar="RELAIS_NATS_REPLICAS", min=1, max=5)]


def nats_login(user: str, password: str, data_dir: Path) -> tuple[str, str]:
    """The given NATS login, or the embedded server's operator account if there is one."""
    import json

    from shared.nats_accounts import ADMIN

    users_file = data_dir / "nats" / "users.json"
    if not user and users_file.exists():
        user, password = ADMIN, json.loads(users_file.read_text())[ADMIN]
    return user, password
