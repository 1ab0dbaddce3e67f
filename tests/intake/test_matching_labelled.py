"""The matcher on the labelled pairs of ``tests/data/matching_pairs.json`` (225 pairs from
Benin's naming practice, each with its kind and reason), and its learning from decisions.

The split into tuning and held-out pairs was fixed by a hash of each pair's id before the
matcher was tuned; only the tuning half was looked at while setting the defaults."""

from __future__ import annotations

from collections import Counter

from relais.matcher_learning import learning_figures
from relais.matcher_quality import evaluate, load_pairs
from services.intake.config import knowledge_from
from services.intake.domain.match_weights import default_weights
from tests.intake.matcher_quality import RESULTS, Quality

LANGUAGES = {"fon", "yoruba", "bariba", "dendi", "fulfulde", "adja", "goun", "french", "arabic"}


def test_the_labelled_set_covers_the_languages_and_kinds() -> None:
    pairs = load_pairs()
    assert len(pairs) >= 200
    assert {p["language"] for p in pairs} >= LANGUAGES
    assert all(p["reason"] and p["kind"] for p in pairs)
    splits = Counter(p["split"] for p in pairs)
    assert splits["tuning"] >= 90 and splits["held_out"] >= 90


def test_precision_and_recall_on_the_tuning_and_held_out_pairs() -> None:
    found = evaluate(knowledge_from(), default_weights(), load_pairs())
    for split in ("tuning", "held_out"):
        t = found[split]["all"]
        RESULTS[f"labelled pairs, {split}"] = Quality(t.pairs, t.same, t.tp, t.fp, t.mistakes)
        print(split, t.as_json(), *t.mistakes, sep="\n  ")
        assert t.precision is not None and t.precision >= 0.95
        assert t.recall is not None and t.recall >= 0.95
        assert t.lost_to_blocking == 0  # the index fetches every pair the score would find
    # What the issue found missing: every clipped Yoruba name and nickname, no twin taken
    # for one child.
    for split in ("tuning", "held_out"):
        assert found[split]["clipped"].recall == 1.0
        assert found[split]["twins"].fp == 0


def test_weights_learned_from_50_decisions_rank_held_back_pairs_better() -> None:
    figures = learning_figures(knowledge_from(), decisions=50)
    decided = figures["decisions"]
    assert decided["confirmed"] + decided["rejected"] == 50
    print(figures)
    assert figures["learned"]["auc"] > figures["defaults"]["auc"]
    assert figures["learned"]["average_precision"] > figures["defaults"]["average_precision"]
