"""The names file the duplicate matcher uses: ``RELAIS_NAMES_FILE``, or Benin's, shipped
with Relais (``shared/reference/names_bj.json``). Read once per path."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from services.intake.domain.names import NameKnowledge, load_knowledge
from shared.config import get_settings
from shared.reference import HERE

DEFAULT_NAMES_FILE = HERE / "names_bj.json"


@cache
def knowledge_from(path: Path | None = None) -> NameKnowledge:
    file = path or DEFAULT_NAMES_FILE
    return load_knowledge(json.loads(file.read_text(encoding="utf-8")))


def name_knowledge() -> NameKnowledge:
    """The knowledge this process was configured with."""
    return knowledge_from(get_settings().names_file)
