"""Labels from one gettext catalogue per language (``locale/<code>/LC_MESSAGES/messages.po``),
read with Babel when the portal starts: a translator adds a language by adding its catalogue,
with no change to the code. Source labels are English; French is the default language. The
writing direction (``dir``) comes from the language itself, so a right-to-left catalogue gets
a right-to-left page."""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from shared.i18n import Message
from shared.reference import codes

LOCALE_DIR = Path(__file__).parent / "locale"
SOURCE_LANGUAGE = "en"
DEFAULT_LANGUAGE = "fr"
DOMAIN = "messages"


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in the language itself
    direction: str  # ltr or rtl


@dataclass(frozen=True)
class Catalogues:
    languages: dict[str, Language]
    translations: dict[str, gettext.NullTranslations]
    default: str

    def choose(self, wanted: str | None) -> str:
        return wanted if wanted in self.languages else self.default


def _language(code: str) -> Language:
    locale = Locale.parse(code)
    name = locale.get_display_name(code) or code
    return Language(code, name[:1].upper() + name[1:], locale.text_direction)


def load_catalogues(directory: Path = LOCALE_DIR, default: str = DEFAULT_LANGUAGE) -> Catalogues:
    """Every catalogue in ``directory``, compiled in memory (no build step)."""
    translations: dict[str, gettext.NullTranslations] = {
        SOURCE_LANGUAGE: gettext.NullTranslations()
    }
    for po in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        code = po.parent.parent.name
        with po.open("rb") as fh:
            catalogue = read_po(fh, locale=code)
        compiled = io.BytesIO()
        write_mo(compiled, catalogue)
        compiled.seek(0)
        translations[code] = gettext.GNUTranslations(compiled)
    languages = {code: _language(code) for code in translations}
    return Catalogues(languages, translations, default if default in languages else SOURCE_LANGUAGE)


@cache
def catalogues() -> Catalogues:
    return load_catalogues()


# The language of the request being answered (set by the portal's middleware).
current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)
current_zone: ContextVar[ZoneInfo | None] = ContextVar("current_zone", default=None)


def _translations() -> gettext.NullTranslations:
    found = catalogues().translations
    return found.get(current_language.get()) or found[SOURCE_LANGUAGE]


def gettext_(message: str) -> str:
    return _translations().gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return _translations().ngettext(singular, plural, n)


def _(message: str, **values: Any) -> str:
    """A label in the current language; ``%(name)s`` placeholders filled from ``values``."""
    text = gettext_(message)
    return text % values if values else text


def N_(message: str) -> str:
    """Marks a label for the catalogue where it is defined; translated where it is shown."""
    return message


def localised(message: Message) -> str:
    """A service's or the reference data's bilingual message, in the current language."""
    return message.en if current_language.get() == "en" else message.fr


def label(kind: str, code: str | None) -> str:
    """The label of a reference code (channels, concerns, sexes, urgencies...)."""
    if not code:
        return ""
    table: dict[str, Message] = getattr(codes(), kind, {})
    found = table.get(code)
    return localised(found) if found else code


def _moment(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def when(value: str | datetime | None) -> str:
    """A moment in the country's time zone, as people of the current language write it."""
    moment = _moment(value)
    if moment is None:
        return ""
    return format_datetime(
        moment,
        "d MMM y, HH:mm",
        tzinfo=current_zone.get() or ZoneInfo("UTC"),
        locale=current_language.get(),
    )


def day(value: str | date | None) -> str:
    if not value:
        return ""
    try:
        parsed = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return format_date(parsed, "d MMM y", locale=current_language.get())
