"""Does the matcher learn from people's decisions? A synthetic population of children
reported once or twice, with the look-alikes a registry holds (siblings, twins, namesakes),
in a region whose habits differ from the defaults' assumptions: children re-reported
mostly in another department by another reporter, and ages guessed loosely.

The first ``decisions`` suggestions made with the default weights are decided by a person
who knows the truth; weights are estimated from those decisions; both sets of weights then
rank the candidate pairs nobody decided (the held-back pairs). Ranking quality is the AUC
(the chance a true pair outranks a false one) and the average precision."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.intake.domain import matching
from services.intake.domain.match_weights import Weights, default_weights, estimate
from services.intake.domain.names import NameKnowledge
from shared.reference import locations

GIVEN = {
    "female": [
        ["Fatoumata", "Fatimata", "Fatou"],
        ["Aminatou", "Amina", "Aminata"],
        ["Sènami", "Senami", "Sɛnami"],
        ["Folasade", "Sade", "Folashade"],
        ["Temitope", "Tope"],
        ["Rachidatou", "Rachida"],
        ["Djénabou", "Zeinabou", "Jenabu"],
        ["Akossiwa", "Akosiwa"],
        ["Mariama", "Mariam", "Mariame"],
        ["Yon"],
        ["Bona"],
        ["Gbèssi", "Gbɛssi"],
        ["Ayélé", "Ayɛlɛ"],
        ["Hawa", "Haoua"],
        ["Prudence"],
        ["Espérance", "Esperance"],
        ["Khadija", "Kadidja", "Hadiza"],
        ["Rakiatou", "Rakia"],
    ],
    "male": [
        ["Mohamed", "Mamadou", "Muhammad"],
        ["Oluwaseun", "Seun"],
        ["Babatunde", "Tunde"],
        ["Adebayo", "Bayo"],
        ["Kossivi", "Kossi"],
        ["Koffi"],
        ["Kokou", "Kɔku"],
        ["Orou"],
        ["Worou", "Woru"],
        ["Bio"],
        ["Sabi", "Saby"],
        ["Ousmane", "Usman"],
        ["Boubacar", "Aboubakar"],
        ["Emmanuel", "Manu"],
        ["Ibrahim", "Ibrahima"],
        ["Issifou", "Youssouf"],
        ["Hounsou"],
        ["Mahougnon", "Mahugnon"],
    ],
}
SURNAMES = [
    "Diallo",
    "Sow",
    "Bah",
    "Agossou",
    "Dossou",
    "Houénou",
    "Adeyemi",
    "Ajayi",
    "Gounou",
    "Sanni",
    "Garba",
    "Maïga",
    "Chabi",
    "Akakpo",
    "Assogba",
    "Zannou",
    "Tossou",
    "Bio",
    "Worou",
    "Yessoufou",
    "Hounkpè",
    "Gbaguidi",
    "Kiki",
    "Mensah",
]


@dataclass(frozen=True)
class Record:
    profile: matching.Profile
    identity: int


def _communes() -> tuple[list[str], dict[str, str]]:
    communes = [a.code for a in locations().at_level(1)]
    return communes, {c: locations().parent_of(c) or "" for c in communes}


def population(k: NameKnowledge, seed: int = 7, children: int = 600) -> list[Record]:
    """Records in registration order: every child once, about a third twice or more."""
    rng = random.Random(seed)
    communes, parent = _communes()
    records: list[Record] = []
    identity = 0

    def add(
        name: str,
        sex: str,
        age: int | tuple[int, int] | None,
        commune: str,
        reporter: str,
        year: int,
        who: int,
        report: str,
    ) -> None:
        received = date(year, rng.randint(1, 12), rng.randint(1, 28))
        low, high = (age, age) if isinstance(age, int) else age if age else (None, None)
        p = matching.profile(
            k,
            f"c{len(records)}",
            name=name,
            alias=None,
            sex=sex,
            born=matching.birth_window(received, None, low, high),
            commune=commune,
            department=parent[commune],
            ages=(low, high) if low is not None and high is not None else None,
            report_id=report,
            reporter_name=reporter,
            year=year,
        )
        records.append(Record(p, who))

    families = children // 3
    for f in range(families):
        surname = rng.choice(SURNAMES)
        home = rng.choice(communes)
        parent_name = f"{rng.choice(['Awa', 'Reine', 'Pascal', 'Yawa', 'Bisi'])} {surname}"
        size = rng.choice([1, 1, 2, 2, 3])
        twins = rng.random() < 0.1
        for c in range(size):
            sex = rng.choice(["female", "male"])
            if twins and c < 2:
                first = (
                    ["Taiwo", "Kehinde"][c] if rng.random() < 0.5 else ["Hassana", "Housseina"][c]
                )
            else:
                first = rng.choice(GIVEN[sex])[0]
            age = rng.randint(3, 15) if not (twins and c < 2) else 8
            identity += 1
            name = f"{first} {surname}"
            add(name, sex, age, home, parent_name, 2023, identity, f"f{f}c{c}")
            if rng.random() < 0.45:  # reported again, a year later, often elsewhere
                forms = next((g for g in GIVEN[sex] if g[0] == first), [first])
                again = f"{rng.choice(forms)} {surname}"
                if rng.random() < 0.2:
                    again = f"{surname} {rng.choice(forms)}"
                moved = rng.random() < 0.7
                where = rng.choice(communes) if moved else home
                guess = age + 1 + rng.choice([-2, -1, 0, 0, 1, 2])
                sex_said = sex if rng.random() < 0.75 else "unknown"
                outreach = f"{rng.choice(['Agent', 'Animateur'])} {rng.choice(SURNAMES)}"
                add(again, sex_said, max(0, guess), where, outreach, 2024, identity, f"r{f}c{c}")
    return records


def candidate_pairs(k: NameKnowledge, records: list[Record]) -> list[tuple[Record, Record]]:
    """(new, known) pairs the index would fetch: each record against earlier ones sharing a
    blocking key."""
    index: dict[str, list[int]] = {}
    pairs: list[tuple[Record, Record]] = []
    for i, r in enumerate(records):
        seen: set[int] = set()
        for key in matching.query_keys(k, r.profile):
            for j in index.get(key, []):
                if j not in seen:
                    seen.add(j)
                    if matching.compare(k, r.profile, records[j].profile) is not None:
                        pairs.append((r, records[j]))
        for key in matching.blocking_keys(k, r.profile):
            index.setdefault(key, []).append(i)
    return pairs


def ranking(w: Weights, scored: list[tuple[dict[str, str], bool]]) -> dict[str, float]:
    ranked = sorted(scored, key=lambda s: -w.match_weight(s[0]))
    positives = sum(1 for _, same in ranked if same)
    negatives = len(ranked) - positives
    # AUC by counting, for each true pair, the false pairs ranked below it (ties count half).
    weights = [(w.match_weight(levels), same) for levels, same in scored]
    wins = 0.0
    for wt, same in weights:
        if same:
            for wf, other in weights:
                if not other:
                    wins += 1.0 if wt > wf else 0.5 if wt == wf else 0.0
    hits, precision_sum = 0, 0.0
    for rank, (_, same) in enumerate(ranked, 1):
        if same:
            hits += 1
            precision_sum += hits / rank
    said = [same for levels, same in scored if w.probability(levels) >= w.threshold]
    tp = sum(said)
    return {
        "auc": round(wins / (positives * negatives), 4) if positives and negatives else 1.0,
        "average_precision": round(precision_sum / positives, 4) if positives else 1.0,
        "precision": round(tp / len(said), 4) if said else 1.0,
        "recall": round(tp / positives, 4) if positives else 1.0,
    }


def learning_figures(k: NameKnowledge, decisions: int = 50, seed: int = 7) -> dict[str, Any]:
    defaults = default_weights()
    records = population(k, seed)
    pairs = candidate_pairs(k, records)
    compared = []
    for new, known in pairs:
        found = matching.compare(k, new.profile, known.profile)
        assert found is not None
        compared.append((found.levels, new.identity == known.identity))
    decided = [c for c in compared if defaults.probability(c[0]) >= defaults.threshold][:decisions]
    decided_ids = {id(c) for c in decided}
    held_back = [c for c in compared if id(c) not in decided_ids]
    learned = estimate(decided, defaults)
    return {
        "records": len(records),
        "candidate_pairs": len(compared),
        "decisions": {"confirmed": learned.confirmed, "rejected": learned.rejected},
        "held_back_pairs": len(held_back),
        "held_back_true_pairs": sum(1 for _, same in held_back if same),
        "defaults": ranking(defaults, held_back),
        "learned": ranking(learned, held_back),
        "learned_weights_id": learned.weights_id,
    }
