"""A third language is a catalogue away, right to left included: the public complaint page,
served by the portal itself, turns right to left when the visitor chooses Arabic from a small
test catalogue (tests/portal/locale/ar/), with no change to the code."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from services.portal.service import create_portal
from services.portal.web import i18n
from shared.config import Settings

pytestmark = pytest.mark.app

TEST_LOCALES = Path(__file__).parent / "locale"


async def test_the_complaint_page_turns_right_to_left_in_arabic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The portal's own catalogues, plus the translator's Arabic file dropped beside them.
    shutil.copytree(i18n.LOCALE_DIR, tmp_path / "locale")
    shutil.copytree(TEST_LOCALES / "ar", tmp_path / "locale" / "ar")
    found = i18n.load_catalogues(tmp_path / "locale")
    monkeypatch.setattr(i18n, "catalogues", lambda: found)
    app = create_portal(Settings(data_dir=tmp_path / "data"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
        arabic = await client.get("/complaint", headers={"Cookie": "relais_lang=ar"})
        french = await client.get("/complaint")
    assert arabic.status_code == 200, arabic.text[:300]
    assert '<html lang="ar" dir="rtl">' in arabic.text
    assert "تقديم شكوى" in arabic.text and "إرسال الشكوى" in arabic.text
    assert "Where did it happen?" in arabic.text  # not yet translated: the English source
    assert '<html lang="fr" dir="ltr">' in french.text and "Déposer une plainte" in french.text
    # The language switch at the foot of every page offers it, in its own name.
    assert 'value="ar"' in french.text and 'lang="ar"' in french.text
