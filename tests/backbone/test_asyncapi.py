"""Every event type is in the AsyncAPI document, with its version and both descriptions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import contracts
from contracts.public import public_registry
from contracts.public.base import subject_pattern as public_subject_pattern
from shared.asyncapi import build_asyncapi, server_url, subject_pattern
from shared.config import Settings
from shared.events import registry
from tests import lab  # noqa: F401 - registers the test event types too

pytestmark = pytest.mark.system


def test_every_registered_event_type_is_documented() -> None:
    contracts.load_all()
    doc = build_asyncapi()
    assert doc["asyncapi"].startswith("3.")
    channels = doc["channels"]
    for model in registry.all():
        channel = channels[f"{model.context}.{model.name}"]
        assert channel["address"] == subject_pattern(model)
        assert model.description["en"] in channel["description"]
        assert model.description["fr"] in channel["description"]
        assert model.type_name() in channel["description"]
        schema = doc["components"]["schemas"][f"{model.context}.{model.name}.v{model.version}"]
        assert schema["properties"]["type"]["const"] == model.type_name()
        assert {"prevhash", "signature", "data"} <= set(schema["properties"])


def test_integrators_find_their_channels_the_real_port_and_how_to_log_in() -> None:
    contracts.load_all()
    doc = build_asyncapi()
    for model in public_registry.all():
        channel = doc["channels"][f"public.{model.source.context}.{model.source.name}"]
        assert channel["address"] == public_subject_pattern(model)
        assert model.description["en"] in channel["description"]
        assert model.description["fr"] in channel["description"]
        name = f"public.{model.source.context}.{model.source.name}.v{model.version}"
        schema = doc["components"]["schemas"][name]
        assert schema["properties"]["type"]["const"] == model.type_name()
        # The public envelope carries nothing of the internal one.
        assert {"actor", "signature", "prevhash", "correlationid"} & set(
            schema["properties"]
        ) == set()
    (server,) = doc["servers"].values()
    assert server["host"] == f"127.0.0.1:{Settings().embedded_nats_port}"
    assert server["security"] and doc["components"]["securitySchemes"]
    assert server_url(Settings(nats_url="nats://hub-1:4222,nats://hub-2:4222")) == (
        "nats://hub-1:4222"
    )


def test_cli_prints_the_document() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "relais.cli", "asyncapi"],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
        check=True,
    )
    doc = json.loads(done.stdout)
    assert "audit.SigningKeyPublished" in doc["channels"]
