"""The duplicate matcher's building blocks (folding, relations between names, scoring,
explanations, siblings and twins, the names file) and the first matcher's tuning fixture."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from contracts.intake import DuplicateSuggested
from services.intake.config import knowledge_from
from services.intake.domain import matching
from services.intake.domain.match_weights import default_weights
from services.intake.domain.names import Relation, fold
from shared.events import registry
from tests.intake.matcher_quality import Record, evaluate

# (identity, name, sex, age, commune, year reported). Same identity = same child, reported
# again with another spelling, a short form, with or without accents, names swapped, a year
# or two older, sometimes elsewhere. Different identities include the hard cases: siblings,
# namesakes, the day names Kossi / Koffi / Kokou, same name and the other sex.
RECORDS: list[Record] = [
    ("fd", "Fatoumata Diallo", "female", 11, "cotonou", 2024),
    ("fd", "Fatimata Diallo", "female", 12, "cotonou", 2025),
    ("fd", "Fatou Diallo", "female", 11, "abomey-calavi", 2024),
    ("fb", "Fatoumata Bah", "female", 11, "cotonou", 2024),
    ("ka", "Kossi Agbodjan", "male", 9, "lokossa", 2024),
    ("ka", "Kossivi Agbodjan", "male", 10, "lokossa", 2025),
    ("ka", "Agbodjan Kossi", "male", 9, "come", 2024),
    ("kf", "Koffi Agbodjan", "male", 12, "lokossa", 2024),
    ("kk", "Kokou Agbodjan", "male", 6, "lokossa", 2024),
    ("as", "Aïssatou Sow", "female", 14, "parakou", 2024),
    ("as", "Aissata Sow", "female", 14, "parakou", 2024),
    ("as", "Awa Sow", "female", 15, "parakou", 2025),
    ("ms", "Mariama Sow", "female", 7, "parakou", 2024),
    ("mt", "Mariama Traoré", "female", 13, "malanville", 2023),
    ("mt", "Mariame Traore", "female", 14, "malanville", 2024),
    ("mt", "Mariam Traoré", "female", 15, "kandi", 2025),
    ("kah", "Kouamé Ahouansou", "male", 16, "porto-novo", 2024),
    ("kah", "Kwame Ahouanssou", "male", 16, "porto-novo", 2024),
    ("ad", "Adjoa Dossou", "female", 8, "ouidah", 2024),
    ("ad", "Adjo Dossou", "female", 9, "ouidah", 2025),
    ("ado", "Adjovi Dossou", "female", 3, "ouidah", 2024),
    ("md", "Mamadou Diallo", "male", 15, "djougou", 2024),
    ("md", "Mamadou Djallo", "male", 16, "djougou", 2025),
    ("mdi", "Mohamed Diallo", "male", 4, "djougou", 2024),
    ("ab", "Abdoulaye Bio", "male", 13, "nikki", 2024),
    ("ab", "Abdou Bio", "male", 13, "nikki", 2024),
    ("ab", "Abdoulaye Bio Gado", "male", 14, "nikki", 2025),
    ("abk", "Abdoulaye Koto", "male", 13, "nikki", 2024),
    ("ah", "Akossiwa Houngbo", "female", 10, "bohicon", 2024),
    ("ah", "Akossiwa Houngbo", "female", 10, "za-kpota", 2024),
    ("ah", "Akosiwa Hounbo", "female", 11, "bohicon", 2025),
    ("ahm", "Akossiwa Houngbo", "female", 2, "bohicon", 2024),
    ("ya", "Yao Amoussou", "male", 12, "dassa-zoume", 2024),
    ("ya", "Yao Amousou", "male", 12, "savalou", 2024),
    ("yaw", "Yawa Amoussou", "female", 12, "dassa-zoume", 2024),
    ("ib", "Ibrahima Bagnan", "male", 17, "kandi", 2024),
    ("ib", "Brahima Bagnan", "male", 17, "kandi", 2024),
    ("ibg", "Ibrahim Gbaguidi", "male", 11, "kandi", 2024),
    ("ac", "Aminata Chabi", "female", 6, "tchaourou", 2024),
    ("ac", "Aminatou Tchabi", "female", 7, "tchaourou", 2025),
    ("acs", "Aminata Chabi", "female", 14, "tchaourou", 2024),
    ("hz", "Hounsou Zinsou", "male", 10, "abomey", 2024),
    ("hz", "Hounsou Zinsou", "male", 10, "abomey", 2024),
    ("hzz", "Zinsou Hounkpatin", "male", 10, "abomey", 2024),
    ("om", "Ousmane Mama", "male", 9, "parakou", 2024),
    ("om", "Ousmanou Mama", "male", 10, "parakou", 2025),
    ("oma", "Ousmane Moussa", "male", 9, "parakou", 2024),
    ("ry", "Rachidatou Yessoufou", "female", 15, "porto-novo", 2024),
    ("ry", "Rachida Yessoufou", "female", 15, "porto-novo", 2024),
    ("rs", "Rachidatou Salifou", "female", 15, "porto-novo", 2024),
    ("ch", "Chantal Hounkonnou", "female", 12, "cotonou", 2024),
    ("ch", "Shantal Hounkonou", "female", 12, "cotonou", 2024),
    ("cho", "Chantal Houessou", "female", 12, "cotonou", 2024),
    ("sa", "Séverin Adjovi", "male", 14, "allada", 2024),
    ("sa", "Severin Adjovi", "male", 15, "allada", 2025),
    ("sas", "Séverine Adjovi", "female", 14, "allada", 2024),
    ("bk", "Bernadette Kiki", "female", 5, "toffo", 2024),
    ("bk", "Bernadette Kikí", "female", 6, "toffo", 2025),
    ("gk", "Gildas Kiki", "male", 5, "toffo", 2024),
    ("ss", "Salimata Sanni", "female", 16, "banikoara", 2024),
    ("ss", "Salamatou Sanni", "female", 16, "banikoara", 2024),
    ("sal", "Salifou Sanni", "male", 16, "banikoara", 2024),
]


def test_matcher_precision_and_recall_on_west_african_name_variants() -> None:
    # The first matcher's tuning fixture. "Awa Sow" was taken for a short form of Aïssatou
    # there; Awa is Hawa (Eve), another name, so that child's third record counts as missed.
    assert len(RECORDS) >= 50
    quality = evaluate("first tuning fixture", RECORDS)
    assert quality.precision >= 0.95
    assert quality.recall >= 0.9


K = knowledge_from()


def _rel(a: str, b: str) -> Relation:
    return K.relate(K.parts(a)[0], K.parts(b)[0])


def test_national_letters_and_tone_marks_are_folded() -> None:
    assert fold("Gbɛnu", K.letters) == fold("Gbènou", K.letters).replace("ou", "u")
    assert _rel("Gbɛnu", "Gbènou") == Relation.SPELLING
    assert _rel("Ɖossou", "Dossou") == Relation.SAME
    assert _rel("Olúwaṣeun", "Oluwaseun") == Relation.SAME


def test_relations_between_name_parts() -> None:
    assert _rel("Seun", "Oluwaseun") == Relation.CLIPPED
    assert _rel("Toundé", "Babatoundé") == Relation.CLIPPED
    assert _rel("Damilare", "Oluwadamilare") == Relation.CLIPPED  # by the prefix rule
    assert _rel("Manu", "Emmanuel") == Relation.NICKNAME
    assert _rel("Mamman", "Mohamed") == Relation.VARIANT
    assert _rel("Muhammad", "Mamadou") == Relation.VARIANT
    assert _rel("Hassana", "Housseina") == Relation.TWIN
    assert _rel("Atsou", "Etsè") == Relation.TWIN
    assert _rel("Zinsou", "Zinsa") == Relation.OTHER_SEX
    assert _rel("Kossi", "Koffi") == Relation.DISTINCT
    assert _rel("Tola", "Tolu") == Relation.DISTINCT
    assert _rel("Moussa", "Moustapha") == Relation.DISTINCT
    assert _rel("Zaliatou", "Zalia") == Relation.SPELLING
    assert _rel("Fatou", "Fatoumata") == Relation.CLIPPED
    assert _rel("Hounkpè", "Houkpè") == Relation.CLOSE
    assert _rel("Bio", "Chantal") == Relation.DIFFERENT
    joined = K.parts("Marie-Josée Agossou")
    assert [p.written for p in joined] == ["Marie Josée", "Agossou"]
    assert K.relate(joined[0], K.parts("Jojo")[0]) == Relation.NICKNAME


def _child(child_id: str, name: str, age: int, report: str, **kw: object) -> matching.Profile:
    received = date(2024, 6, 1)
    return matching.profile(
        K,
        child_id,
        name=name,
        alias=None,
        sex=str(kw.get("sex", "male")),
        born=matching.birth_window(received, None, age, age),
        commune=str(kw.get("commune", "bj-plateau-ketou")),
        department="bj-plateau",
        ages=(age, age),
        report_id=report,
        reporter_name=kw.get("reporter"),  # type: ignore[arg-type]
        year=2024,
    )


def test_a_clipped_yoruba_name_is_suggested_with_its_explanation() -> None:
    old = _child("a", "Oluwaseun Adeyemi", 13, "r1")
    new = _child("b", "Seun Adeyemi", 14, "r2")
    found = matching.score(K, default_weights(), new, old)
    assert found is not None and found.levels["name"] == "variant"
    assert found.explanation.en.startswith("Seun is a short form of Oluwaseun; ")
    assert "same commune" in found.explanation.en and "ages 14 and 13" in found.explanation.en
    assert found.explanation.fr.startswith("Seun est une forme courte de Oluwaseun ; ")
    assert set(matching.query_keys(K, new)) & set(matching.blocking_keys(K, old))


def test_siblings_twins_and_one_report_are_never_suggested() -> None:
    w = default_weights()
    same_report = (_child("a", "Kossi Agbodjan", 9, "r1"), _child("b", "Kossi Agbodjan", 9, "r1"))
    assert matching.compare(K, *same_report) is None
    twins = (_child("a", "Taiwo Ojo", 8, "r1"), _child("b", "Kehinde Ojo", 8, "r2"))
    assert matching.score(K, w, *twins) is None
    mother = {"reporter": "Awa Diallo"}
    brothers = (
        _child("a", "Moussa Diallo", 9, "r1", **mother),
        _child("b", "Moustapha Diallo", 11, "r2", **mother),
    )
    found = matching.compare(K, *brothers)
    assert found is not None and found.levels["household"] == "sibling_pattern"
    assert matching.score(K, w, *brothers) is None


def test_unnamed_children_and_other_sex_never_match() -> None:
    w = default_weights()
    named = _child("a", "Awa Sow", 10, "r1", sex="female")
    unnamed = _child("b", "", 10, "r2", sex="female")
    boy = _child("c", "Awa Sow", 10, "r3", sex="male")
    assert matching.compare(K, named, unnamed) is None
    assert matching.score(K, w, named, boy) is None


def test_a_names_file_of_another_country_is_used_when_configured(tmp_path: Path) -> None:
    custom = tmp_path / "names.json"
    custom.write_text(
        json.dumps({"variants": [{"name": "X", "forms": ["Youssef", "Yusuf"]}]}), "utf-8"
    )
    k = knowledge_from(custom)
    assert k.relate(k.parts("Youssef")[0], k.parts("Yusuf")[0]) == Relation.VARIANT
    assert K.relate(K.parts("Youssef")[0], K.parts("Yusuf")[0]) != Relation.DIFFERENT


def test_a_v1_suggestion_is_upcast_with_words_for_its_reasons() -> None:
    data = {"child_id": "a", "candidate_id": "b", "score": 0.9, "reasons": ["name", "commune"]}
    event = registry.decode("org.relais.intake.DuplicateSuggested.v1", data)
    assert isinstance(event, DuplicateSuggested)
    assert event.explanation_en == "Similar names; same commune"
    assert event.explanation_fr == "Noms semblables ; même commune"
    assert event.weights_id == "v1" and event.comparison == {}
