"""French and English for every user-facing message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Language = Literal["en", "fr"]
DEFAULT_LANGUAGE: Language = "fr"


@dataclass(frozen=True)
class Message:
    en: str
    fr: str

    def format(self, **values: Any) -> Message:
        return Message(en=self.en.format(**values), fr=self.fr.format(**values))


def language(accept_language: str | None) -> Language:
    """The best of French and English for an ``Accept-Language`` header (French by default:
    the first deployments are francophone)."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    best: tuple[float, Language] | None = None
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("en", "fr") and (best is None or quality > best[0]):
            best = (quality, "en" if primary == "en" else "fr")
    return best[1] if best else DEFAULT_LANGUAGE


def localise(message: Message, lang: Language) -> str:
    return message.en if lang == "en" else message.fr


_REASONS: dict[str, Message] = {
    "missing": Message(en="This field is required.", fr="Ce champ est obligatoire."),
    "extra_forbidden": Message(
        en="This field is not expected here.", fr="Ce champ n'est pas attendu ici."
    ),
    "string_too_long": Message(
        en="Too long: at most {max_length} characters.",
        fr="Trop long : {max_length} caractères au plus.",
    ),
    "string_too_short": Message(
        en="Too short: at least {min_length} characters.",
        fr="Trop court : au moins {min_length} caractères.",
    ),
    "too_short": Message(
        en="At least {min_length} item(s) needed.", fr="Au moins {min_length} élément(s) requis."
    ),
    "too_long": Message(
        en="At most {max_length} item(s) allowed.", fr="Au plus {max_length} élément(s) permis."
    ),
    "string_type": Message(en="Text is expected.", fr="Un texte est attendu."),
    "int_type": Message(en="A whole number is expected.", fr="Un nombre entier est attendu."),
    "int_parsing": Message(en="A whole number is expected.", fr="Un nombre entier est attendu."),
    "bool_type": Message(en="true or false is expected.", fr="true ou false est attendu."),
    "bool_parsing": Message(en="true or false is expected.", fr="true ou false est attendu."),
    "float_parsing": Message(en="A number is expected.", fr="Un nombre est attendu."),
    "greater_than_equal": Message(
        en="Must be at least {ge}.", fr="Doit être supérieur ou égal à {ge}."
    ),
    "less_than_equal": Message(
        en="Must be at most {le}.", fr="Doit être inférieur ou égal à {le}."
    ),
    "greater_than": Message(en="Must be more than {gt}.", fr="Doit être supérieur à {gt}."),
    "less_than": Message(en="Must be less than {lt}.", fr="Doit être inférieur à {lt}."),
    "enum": Message(
        en="Unknown value; expected one of: {expected}.",
        fr="Valeur inconnue ; valeurs possibles : {expected}.",
    ),
    "literal_error": Message(
        en="Unknown value; expected one of: {expected}.",
        fr="Valeur inconnue ; valeurs possibles : {expected}.",
    ),
    "datetime_parsing": Message(
        en="A date and time is expected (ISO 8601, e.g. 2026-03-01T14:30:00Z).",
        fr="Une date et heure est attendue (ISO 8601, p. ex. 2026-03-01T14:30:00Z).",
    ),
    "datetime_from_date_parsing": Message(
        en="A date and time is expected (ISO 8601, e.g. 2026-03-01T14:30:00Z).",
        fr="Une date et heure est attendue (ISO 8601, p. ex. 2026-03-01T14:30:00Z).",
    ),
    "date_parsing": Message(
        en="A date is expected (YYYY-MM-DD).", fr="Une date est attendue (AAAA-MM-JJ)."
    ),
    "date_from_datetime_parsing": Message(
        en="A date is expected (YYYY-MM-DD).", fr="Une date est attendue (AAAA-MM-JJ)."
    ),
    "json_invalid": Message(
        en="The body is not valid JSON.", fr="Le corps de la requête n'est pas un JSON valide."
    ),
    "model_attributes_type": Message(en="An object is expected.", fr="Un objet est attendu."),
    "dict_type": Message(en="An object is expected.", fr="Un objet est attendu."),
    "list_type": Message(en="A list is expected.", fr="Une liste est attendue."),
    "uuid_parsing": Message(en="An identifier is expected.", fr="Un identifiant est attendu."),
    "string_pattern_mismatch": Message(
        en="The format is not valid.", fr="Le format n'est pas valide."
    ),
}


def validation_reason(error: dict[str, Any] | Any) -> Message:
    """A person's reading of one pydantic validation error."""
    kind = str(error.get("type", ""))
    ctx = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, str | int | float)}
    if kind == "value_error" and "error" in (error.get("ctx") or {}):
        reason = (error.get("ctx") or {})["error"]
        if isinstance(reason, LocalisedValueError):
            return reason.message
    template = _REASONS.get(kind)
    if template is None:
        text = str(error.get("msg", "invalid value"))
        return Message(en=text, fr=f"Valeur non valide ({text}).")
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return Message(en=template.en.split(":")[0] + ".", fr=template.fr.split(":")[0] + ".")


class LocalisedValueError(ValueError):
    """Raise in a pydantic validator to give a reason in both languages."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.en)
        self.message = message
