"""Every event type is in the AsyncAPI document, with its version and both descriptions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import contracts
from shared.asyncapi import build_asyncapi, subject_pattern
from shared.events import registry
from tests import lab  # noqa: F401 - registers the test event types too


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
