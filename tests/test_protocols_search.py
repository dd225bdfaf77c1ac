"""Search and filters over the in-memory protocol index (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.protocols.library import Library, load_library
from app.protocols.search import tokens
from tests import protocol_samples as s

SHIPPED = Path(__file__).resolve().parents[1] / "protocols"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("search-library")
    s.write(
        root,
        s.meta(
            "tp-upper-trapezius",
            title="Upper trapezius trigger point release",
            summary="Pincer release of the upper trapezius for temple headache.",
            regions=["neck_posterior", "neck_lateral", "shoulder"],
            muscles=["upper_trapezius"],
            indications=["tension_type_headache", "neck_pain"],
        ),
        "## Technique\n\nTake a pincer grip on the taut band and hold.\n",
    )
    s.write(
        root,
        s.meta(
            "tp-levator-scapulae",
            title="Levator scapulae trigger point release",
            summary="Release at the angle of the neck.",
            regions=["neck_posterior", "shoulder"],
            muscles=["levator_scapulae"],
            indications=["neck_stiffness"],
        ),
        "## Technique\n\nWork beneath the upper trapezius, which lies over it.\n",
    )
    s.write(
        root,
        s.meta(
            "cs-frontal-lift",
            category="craniosacral",
            title="Frontal lift",
            summary="A light hold on the forehead.",
            regions=["head", "face"],
            muscles=["frontalis"],
            indications=["stress", "sleep_disturbance"],
        ),
        "## Hold\n\nLight contact for five minutes; some patients report fewer headaches.\n",
    )
    s.write(
        root,
        s.meta(
            "dt-upper-back",
            category="deep_tissue",
            title="Deep tissue for the upper back",
            summary="Slow strokes between the shoulder blades.",
            regions=["upper_back", "interscapular"],
            muscles=["rhomboids", "middle_trapezius"],
            indications=["interscapular_pain", "upper_back_pain"],
            red_flag_screen=False,
        ),
        "## Strokes\n\nForearm strokes along the erector spinae.\n",
    )
    loaded = load_library(root)
    assert loaded.problems == []
    return loaded


def ids(results) -> list[str]:
    return [p.id for p in results.protocols]


def test_tokens_fold_case_accents_plurals_and_stop_words() -> None:
    assert tokens("The Trapézius and HEADACHES of the neck") == ["trapezius", "headache", "neck"]
    assert tokens("stress") == ["stress"]  # -ss is not a plural
    assert tokens("capitis") == ["capitis"]


def test_no_query_lists_everything_in_browse_order(library: Library) -> None:
    results = library.index.search()
    # categories in vocabulary order (trigger point, ..., craniosacral, deep tissue), then title
    assert ids(results) == [
        "tp-levator-scapulae",
        "tp-upper-trapezius",
        "cs-frontal-lift",
        "dt-upper-back",
    ]
    assert not results.partial and results.terms == ()


def test_stop_words_alone_are_no_query(library: Library) -> None:
    assert len(library.index.search("the and of").protocols) == 4


def test_title_match_outranks_a_body_mention(library: Library) -> None:
    results = library.index.search("upper trapezius")
    assert ids(results)[0] == "tp-upper-trapezius"
    assert "tp-levator-scapulae" in ids(results)  # mentions both words in its procedure
    assert not results.partial


def test_muscle_label_match(library: Library) -> None:
    assert ids(library.index.search("levator"))[0] == "tp-levator-scapulae"
    assert ids(library.index.search("rhomboids")) == ["dt-upper-back"]


def test_indication_labels_are_searchable(library: Library) -> None:
    assert ids(library.index.search("tension-type headache"))[0] == "tp-upper-trapezius"
    assert ids(library.index.search("sleep")) == ["cs-frontal-lift"]


def test_plural_and_singular_find_each_other(library: Library) -> None:
    assert set(ids(library.index.search("headaches"))) == {"tp-upper-trapezius", "cs-frontal-lift"}
    assert ids(library.index.search("headache"))[0] == "tp-upper-trapezius"  # title/indication


def test_prefix_matches_longer_words(library: Library) -> None:
    assert ids(library.index.search("trap"))[0] == "tp-upper-trapezius"
    assert ids(library.index.search("cranio")) == ["cs-frontal-lift"]  # category label
    assert library.index.search("tr").protocols == []  # too short to expand


def test_case_and_accents_are_ignored(library: Library) -> None:
    assert ids(library.index.search("FRONTAL Lïft")) == ["cs-frontal-lift"]


def test_every_word_must_match_else_partial_results(library: Library) -> None:
    results = library.index.search("frontalis rhomboids")
    assert results.partial
    assert set(ids(results)) == {"cs-frontal-lift", "dt-upper-back"}


def test_nothing_matches(library: Library) -> None:
    results = library.index.search("zzzz quux")
    assert results.protocols == [] and not results.partial


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category": "craniosacral"}, {"cs-frontal-lift"}),
        ({"category": "trigger_point"}, {"tp-upper-trapezius", "tp-levator-scapulae"}),
        ({"region": "shoulder"}, {"tp-upper-trapezius", "tp-levator-scapulae"}),
        ({"region": "interscapular"}, {"dt-upper-back"}),
        ({"muscle": "frontalis"}, {"cs-frontal-lift"}),
        ({"indication": "neck_stiffness"}, {"tp-levator-scapulae"}),
        ({"category": "trigger_point", "region": "neck_lateral"}, {"tp-upper-trapezius"}),
        ({"category": "deep_tissue", "muscle": "frontalis"}, set()),
        ({"region": "no_such_region"}, set()),
    ],
)
def test_filters(library: Library, filters: dict[str, str], expected: set[str]) -> None:
    assert set(ids(library.index.search(**filters))) == expected


def test_query_and_filter_together(library: Library) -> None:
    assert ids(library.index.search("trapezius", category="deep_tissue")) == ["dt-upper-back"]
    found = set(ids(library.index.search("release", region="shoulder")))
    assert found == {"tp-levator-scapulae", "tp-upper-trapezius"}


def test_by_category_groups_in_vocabulary_order(library: Library) -> None:
    groups = library.by_category()
    assert [term.code for term, _ in groups] == ["trigger_point", "craniosacral", "deep_tissue"]
    assert [p.id for p in groups[0][1]] == ["tp-levator-scapulae", "tp-upper-trapezius"]


def test_used_codes_offer_only_what_the_library_holds(library: Library) -> None:
    used = library.used_codes()
    assert used["category"] == {"trigger_point", "craniosacral", "deep_tissue"}
    assert "frontalis" in used["muscle"] and "deltoid" not in used["muscle"]


# --- the shipped library ranks its own protocols sensibly ----------------------------------


@pytest.fixture(scope="module")
def shipped() -> Library:
    return load_library(SHIPPED)


@pytest.mark.parametrize(
    ("query", "muscle"),
    [
        ("upper trapezius", "upper_trapezius"),
        ("suboccipitals", "suboccipitals"),
        ("levator scapulae", "levator_scapulae"),
        ("sternocleidomastoid", "sternocleidomastoid"),
    ],
)
def test_shipped_library_ranks_the_named_muscle_first(
    shipped: Library, query: str, muscle: str
) -> None:
    top = shipped.index.search(query).protocols[:3]
    assert muscle in top[0].muscles, top[0].id
    assert sum(muscle in p.muscles for p in top) >= 2, [p.id for p in top]


def test_shipped_library_title_search(shipped: Library) -> None:
    assert ids(shipped.index.search("frontal lift"))[0] == "cs-frontal-lift"
    assert ids(shipped.index.search("upper trapezius trigger point"))[0] == "tp-upper-trapezius"
    assert ids(shipped.index.search("suboccipital trigger point"))[0] == "tp-suboccipitals"


def test_shipped_library_search_by_indication_label(shipped: Library) -> None:
    results = shipped.index.search("cervicogenic headache")
    assert len(results.protocols) >= 3 and not results.partial
    top = results.protocols[:5]
    assert all(
        "cervicogenic_headache" in p.indications or "cervicogenic" in p.body.lower() for p in top
    )
