"""The matcher on a held-out fixture: records written after the matcher's thresholds were set
on ``test_matching.py``'s fixture, and never used to tune it. Its figures are the honest ones.

Names from the peoples of Benin's reports the tuning fixture under-represents (Fon, Yoruba /
Nago, Bariba, Dendi, Fulfulde, Adja) and French given names, as hotline operators and police
officers write them: with and without accents and tone marks, French spellings of Yoruba
names (Adjayi for Ajayi, Odjo for Ojo), English ones of Fulfulde names (Jenabu, Umaru),
typos, names swapped, sex unknown, an age range instead of an age, a year later, elsewhere.
Different children include twins (Taiwo / Kehinde, Zinsou / Zinsa), siblings, the Adja day
names (Kokou / Komi, Afi / Abla), and namesakes of another age."""

from __future__ import annotations

from tests.intake.matcher_quality import Record, evaluate

HELD_OUT: list[Record] = [
    # Fon
    ("sh", "Sènami Houénou", "female", 9, "bohicon", 2024),
    ("sh", "Senami Houenou", "female", 9, "bohicon", 2024),
    ("sh", "Sénami Houénou", "female", (9, 11), "abomey", 2025),
    ("dh", "Dossi Houénou", "female", 6, "bohicon", 2024),
    ("mz", "Mahougnon Zannou", "female", 13, "cotonou", 2024),
    ("mz", "Mahougnon Zanou", "female", 13, "cotonou", 2024),
    ("mz", "Zannou Mahugnon", "unknown", 14, "cotonou", 2025),
    ("ka", "Kpèvi Agossou", "male", 7, "ouidah", 2024),
    ("ka", "Kpevi Agossou", "male", (6, 8), "ouidah", 2024),
    ("ha", "Hossou Agossou", "male", 7, "ouidah", 2024),
    ("gt", "Gbèssi Tossou", "female", 15, "abomey-calavi", 2024),
    ("gt", "Gbessi Tossou", "female", 15, "abomey-calavi", 2024),
    ("gt", "Bessi Tossou", "female", 16, "cotonou", 2025),
    ("gta", "Gbèssi Tossa", "female", 4, "abomey-calavi", 2024),
    ("zd", "Zinsou Dansou", "male", 10, "za-kpota", 2024),
    ("zd", "Zinsou Dansou", "male", 11, "za-kpota", 2025),
    ("zad", "Zinsa Dansou", "female", 10, "za-kpota", 2024),
    # Yoruba / Nago
    ("oa", "Olúwaseun Adéyẹmí", "male", 12, "ketou", 2024),
    ("oa", "Oluwaseun Adeyemi", "male", 12, "ketou", 2024),
    ("oa", "Seun Adeyemi", "male", 13, "pobe", 2025),
    ("fa", "Fọláṣadé Àjàyí", "female", 14, "porto-novo", 2024),
    ("fa", "Folashade Adjayi", "female", 14, "porto-novo", 2024),
    ("fa", "Folasade Ajayi", "unknown", (13, 15), "porto-novo", 2024),
    ("fka", "Folake Ajayi", "female", 9, "porto-novo", 2024),
    ("to", "Táíwò Odjo", "male", 8, "sakete", 2024),
    ("to", "Taiwo Ojo", "male", 8, "sakete", 2024),
    ("ko", "Kẹ́hìndé Odjo", "male", 8, "sakete", 2024),
    ("ko", "Kehinde Odjo", "male", 9, "sakete", 2025),
    ("yb", "Yétúndé Bankolé", "female", 16, "ifangni", 2024),
    ("yb", "Yetunde Bankole", "female", 16, "ifangni", 2024),
    ("yb", "Yetoundé Bankolé", "female", 17, "ifangni", 2025),
    ("ia", "Ìyábọ̀ Akindélé", "female", 5, "adjarra", 2024),
    ("ia", "Iyabo Akindele", "female", 5, "adjarra", 2024),
    # Bariba
    ("bg", "Bio Gounou", "male", 11, "nikki", 2024),
    ("bg", "Bio Gounou", "male", 11, "kalale", 2024),
    ("bg", "Gounou Bio", "male", 12, "nikki", 2025),
    ("bgt", "Bio Gounou", "male", 3, "nikki", 2024),
    ("sg", "Sabi Gounou", "male", 11, "nikki", 2024),
    ("ys", "Yon Sabi", "female", 9, "parakou", 2024),
    ("ys", "Yon Sabi", "female", (8, 10), "parakou", 2024),
    ("ys", "Yon Saby", "female", 10, "parakou", 2025),
    ("ow", "Orou Worou", "male", 15, "tchaourou", 2024),
    ("ow", "Worou Orou", "male", 15, "tchaourou", 2024),
    ("ow", "Orou Woru", "male", 16, "tchaourou", 2025),
    ("os", "Orou Séro", "male", 15, "tchaourou", 2024),
    ("bk", "Bona Kora", "female", 13, "bembereke", 2024),
    ("bk", "Bona Korah", "unknown", 13, "bembereke", 2024),
    ("sy", "Sika Yérima", "female", 7, "n-dali", 2024),
    ("sy", "Sika Yerima", "female", 7, "n-dali", 2024),
    ("sy", "Sika Yarima", "female", 8, "parakou", 2025),
    # Dendi
    ("zg", "Zalia Garba", "female", 14, "malanville", 2024),
    ("zg", "Zaliatou Garba", "female", 14, "malanville", 2024),
    ("zg", "Zalia Garba", "female", 15, "karimama", 2025),
    ("zgy", "Zalia Garba", "female", 6, "malanville", 2024),
    ("im", "Issifou Maïga", "male", 10, "karimama", 2024),
    ("im", "Issifou Maiga", "male", 10, "karimama", 2024),
    ("im", "Issoufou Maïga", "male", 11, "malanville", 2025),
    ("hi", "Haoua Idrissou", "female", 12, "kandi", 2024),
    ("hi", "Hawa Idrissou", "female", 12, "kandi", 2024),
    ("hi", "Awa Idrisou", "female", 13, "kandi", 2025),
    ("his", "Hawa Issa", "female", 12, "kandi", 2024),
    ("rt", "Rakia Touré", "female", 16, "malanville", 2024),
    ("rt", "Rakiatou Toure", "female", 16, "malanville", 2024),
    # Fulfulde
    ("ob", "Oumarou Boubakari", "male", 9, "kalale", 2024),
    ("ob", "Umaru Bukari", "male", 9, "kalale", 2024),
    ("ob", "Oumarou Boubacar", "male", 10, "kalale", 2025),
    ("jd", "Djénabou Diallo", "female", 11, "gogounou", 2024),
    ("jd", "Jenabu Diallo", "female", 11, "gogounou", 2024),
    ("jd", "Diénabou Djallo", "female", 12, "gogounou", 2025),
    ("jb", "Djénabou Bah", "female", 11, "gogounou", 2024),
    ("jbd", "Djibril Diallo", "male", 11, "gogounou", 2024),
    ("hsi", "Hadjara Sidibé", "female", 8, "banikoara", 2024),
    ("hsi", "Hajara Sidibe", "female", 8, "banikoara", 2024),
    ("hsi", "Adjara Sidibé", "unknown", (7, 9), "banikoara", 2024),
    ("kb", "Kadidja Barry", "female", 15, "segbana", 2024),
    ("kb", "Khadija Bary", "female", 15, "segbana", 2024),
    ("kb", "Kadiatou Barry", "female", 15, "segbana", 2025),
    ("fs", "Fadimatou Sow", "female", 6, "kandi", 2024),
    ("fs", "Fadimata Sow", "female", 6, "kandi", 2024),
    # Adja
    ("ks", "Kokou Assogba", "male", 13, "aplahoue", 2024),
    ("ks", "Kokou Asogba", "male", 13, "aplahoue", 2024),
    ("ks", "Assogba Kokou", "male", 14, "djakotomey", 2025),
    ("km", "Komi Assogba", "male", 13, "aplahoue", 2024),
    ("aa", "Afi Akakpo", "female", 10, "dogbo", 2024),
    ("aa", "Afi Akakpo", "unknown", 10, "dogbo", 2024),
    ("aa", "Affi Akakpo", "female", (9, 11), "lalo", 2025),
    ("ab", "Abla Akakpo", "female", 10, "dogbo", 2024),
    ("at", "Ayélé Tognon", "female", 4, "klouekanme", 2024),
    ("at", "Ayele Tognon", "female", 4, "klouekanme", 2024),
    ("at", "Ayélé Tognonn", "female", 5, "klouekanme", 2025),
    ("ya", "Yawo Agbessi", "male", 16, "lokossa", 2024),
    ("ya", "Yao Agbessi", "male", 16, "lokossa", 2024),
    ("yaf", "Yawa Agbessi", "female", 16, "lokossa", 2024),
    # French given names
    ("fh", "Fidèle Hounkpè", "male", 12, "abomey", 2024),
    ("fh", "Fidele Hounkpe", "male", 12, "abomey", 2024),
    ("fh", "Fidel Houkpè", "male", 13, "bohicon", 2025),
    ("pg", "Prudence Gbaguidi", "female", 9, "savalou", 2024),
    ("pg", "Prudence Gbaguidi", "female", 9, "dassa-zoume", 2024),
    ("pgo", "Prudence Gbaguidi", "female", 15, "savalou", 2024),
    ("ra", "Rodrigue Ahouandjinou", "male", 17, "cotonou", 2024),
    ("ra", "Rodrig Ahouandjinou", "male", 17, "cotonou", 2024),
    ("ra", "Rodrigue Ahouandjinou", "unknown", None, "cotonou", 2024),
    ("ek", "Espérance Kpossou", "female", 3, "grand-popo", 2024),
    ("ek", "Esperance Kpossou", "female", 3, "grand-popo", 2024),
    ("eko", "Espérance Kpossou", "female", 11, "grand-popo", 2024),
]


def test_matcher_precision_and_recall_on_the_held_out_fixture() -> None:
    assert len(HELD_OUT) >= 50
    quality = evaluate("held-out fixture", HELD_OUT)
    assert quality.true_pairs >= 50
    # The first matcher stood at precision 1.00, recall 0.86 here (missing Yoruba short
    # forms, ṣ against sh, Bukari for Boubakari, Yao / Yawo, Houkpè, Kadiatou / Kadidja).
    # The matcher with name knowledge and weights (issue 21) finds all 77 true pairs with no
    # false one, blocking included. This fixture was written by an earlier session; the
    # names file was written without looking at it, but it is no longer unseen: the honest
    # held-out figures are those of tests/data/matching_pairs.json.
    assert quality.precision >= 0.95
    assert quality.recall >= 0.95


def test_fon_boy_and_girl_names_are_told_apart_when_one_sex_is_unknown() -> None:
    # Once a known limit (the first matcher dropped final vowels): Zinsou and Zinsa are a
    # boy's and a girl's form of one Fon name, listed in the names file.
    twins = [
        ("z1", "Zinsou Dansou", "unknown", 10, "za-kpota", 2024),
        ("z2", "Zinsa Dansou", "female", 10, "za-kpota", 2024),
    ]
    assert evaluate("Fon twins", twins, summary=False).fp == 0
