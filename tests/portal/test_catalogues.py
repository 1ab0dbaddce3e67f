"""The portal's labels: every label of the code and the templates is in the catalogue
template (``messages.pot``) and translated in every language's catalogue, with the same
placeholders; a language is added by adding its catalogue, and a right-to-left one turns the
page right to left."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from services.portal.web import i18n
from services.portal.web.templating import render

pytestmark = pytest.mark.domain

PORTAL = Path(__file__).resolve().parents[2] / "services" / "portal"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> set[str | tuple[str, str]]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}}
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        PORTAL,
        method_map,
        options,
        keywords={"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)},
    ):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def test_the_catalogue_template_holds_every_label() -> None:
    with (i18n.LOCALE_DIR / "messages.pot").open("rb") as fh:
        template = {m.id if isinstance(m.id, str) else tuple(m.id) for m in read_po(fh) if m.id}
    missing = extracted() - template
    assert not missing, f"run pybabel extract (docs/portal.md): {sorted(map(str, missing))}"


def test_every_language_translates_every_label_with_its_placeholders() -> None:
    labels = extracted()
    catalogues = sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))
    assert catalogues, "no catalogue"
    for path in catalogues:
        with path.open("rb") as fh:
            catalogue = read_po(fh)
        for label in labels:
            key = label if isinstance(label, str) else label[0]
            message = catalogue.get(key)
            assert message is not None and message.string, f"{path.parent.parent.name}: {label}"
            texts = [message.string] if isinstance(message.string, str) else message.string
            wanted = set(PLACEHOLDER.findall(key if isinstance(label, str) else label[1]))
            for text in texts:
                assert set(PLACEHOLDER.findall(text)) <= wanted | {"num"}, (label, text)


def test_a_right_to_left_language_is_a_catalogue_away(tmp_path: Path) -> None:
    folder = tmp_path / "ar" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: ar\\n"\n\n'
        'msgid "Not found"\nmsgstr "غير موجود"\n',
        encoding="utf-8",
    )
    found = i18n.load_catalogues(tmp_path, default="ar")
    assert found.languages["ar"].direction == "rtl" and found.default == "ar"
    token = i18n.current_language.set("ar")
    original = i18n.catalogues
    i18n.catalogues = lambda: found  # type: ignore[assignment]
    try:
        html = render(
            "message.html",
            {
                "lang": "ar",
                "dir": found.languages["ar"].direction,
                "languages": list(found.languages.values()),
                "viewer": None,
                "csrf": "t",
                "menu": [],
                "path": "/",
                "title": i18n._("Not found"),
                "text": "",
                "link": None,
            },
        )
    finally:
        i18n.catalogues = original  # type: ignore[assignment]
        i18n.current_language.reset(token)
    assert '<html lang="ar" dir="rtl">' in html and "غير موجود" in html
