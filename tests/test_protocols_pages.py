"""Protocol library pages: who may see them, browsing, search, one protocol in full."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.protocols import get_library, reload_library
from app.vocab import CATEGORIES, CONDITIONS
from tests import factories as f
from tests import protocol_samples as s


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def titles(html: str) -> list[str]:
    return re.findall(r'<h3><a href="/protocols/[^"]+">([^<]+)</a></h3>', html)


# --- who may see the library --------------------------------------------------------------


@pytest.mark.parametrize("role", ["therapist", "owner"])
def test_clinical_roles_can_browse(login_as, role: str) -> None:
    c = login_as(role)
    assert c.get("/protocols/").status_code == 200
    assert c.get("/protocols/tp-upper-trapezius").status_code == 200


@pytest.mark.parametrize("role", ["front_desk", "patient"])
def test_other_roles_are_refused(login_as, role: str) -> None:
    c = login_as(role)
    assert c.get("/protocols/").status_code == 403
    assert c.get("/protocols/tp-upper-trapezius").status_code == 403


def test_anonymous_is_sent_to_sign_in(client) -> None:
    for url in ("/protocols/", "/protocols/tp-upper-trapezius"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/signin" in response.headers["Location"]


def test_nav_links_the_library_for_therapists_only(login_as) -> None:
    assert 'href="/protocols/"' in html_of(login_as("therapist").get("/"))
    assert 'href="/protocols/"' not in html_of(login_as("front_desk").get("/"))


# --- browsing, searching, filtering -------------------------------------------------------


def test_browse_groups_by_category_with_every_protocol(app: Flask, login_as) -> None:
    html = html_of(login_as("therapist").get("/protocols/"))
    library = get_library()
    for term, _ in library.by_category():
        assert f'id="cat-{term.code}">{term.label}' in html
    assert len(titles(html)) == len(library)
    assert "Upper trapezius trigger point release" in html


def test_search_form_works_without_javascript_and_labels_every_input(login_as) -> None:
    html = html_of(login_as("therapist").get("/protocols/"))
    start = html.index('<form method="get"')
    form = html[start : html.index("</form>", start)]
    assert "<script" not in html
    for name in ("q", "category", "region", "muscle", "indication"):
        assert f'<label for="{name}">' in form, name
        assert f'name="{name}"' in form, name
    assert 'type="submit"' in form


def test_search_ranks_the_named_protocol_first(login_as) -> None:
    html = html_of(login_as("therapist").get("/protocols/?q=upper+trapezius"))
    found = titles(html)
    assert found[0] == "Upper trapezius trigger point release"
    assert "best match first" in html
    assert 'value="upper trapezius"' in html  # the query stays in the box


def test_filter_by_category(login_as) -> None:
    html = html_of(login_as("therapist").get("/protocols/?category=craniosacral"))
    library = get_library()
    expected = {p.title for p in library if p.category == "craniosacral"}
    assert set(titles(html)) == expected and expected
    assert '<option selected value="craniosacral">' in html


def test_filter_by_region_muscle_and_indication(login_as) -> None:
    c = login_as("therapist")
    library = get_library()
    for arg, attr, code in [
        ("region", "regions", "cranial_base"),
        ("muscle", "muscles", "upper_trapezius"),
        ("indication", "indications", "cervicogenic_headache"),
    ]:
        html = html_of(c.get(f"/protocols/?{arg}={code}"))
        expected = {p.title for p in library if code in getattr(p, attr)}
        assert set(titles(html)) == expected and expected, arg


def test_query_and_filters_combine(login_as) -> None:
    html = html_of(login_as("therapist").get("/protocols/?q=release&category=trigger_point"))
    found = titles(html)
    library = get_library()
    trigger = {p.title for p in library if p.category == "trigger_point"}
    assert found and set(found) <= trigger


def test_unknown_filter_codes_are_ignored_and_long_queries_do_not_fail(login_as) -> None:
    c = login_as("therapist")
    html = html_of(c.get("/protocols/?region=<script>&category=nope"))
    assert len(titles(html)) == len(get_library())
    assert "<script>" not in html
    assert c.get("/protocols/?q=" + "neck+" * 200).status_code == 200


def test_no_match_says_so(login_as) -> None:
    html = html_of(login_as("therapist").get("/protocols/?q=zzzqqq"))
    assert "No protocol matches" in html and titles(html) == []


def test_query_is_escaped(login_as) -> None:
    html = html_of(login_as("therapist").get('/protocols/?q="><script>alert(1)</script>'))
    assert "<script>alert(1)" not in html


# --- one protocol --------------------------------------------------------------------------


def test_protocol_page_shows_summary_contraindications_procedure_and_home_care(login_as) -> None:
    protocol = get_library().get("tp-upper-trapezius")
    html = html_of(login_as("therapist").get("/protocols/tp-upper-trapezius"))
    assert f"<h1>{protocol.title}</h1>" in html
    assert f"Content version {protocol.content_version}" in html
    assert f"{protocol.duration_minutes} minutes" in html
    assert CATEGORIES["trigger_point"].label in html
    absolute = html[html.index('class="contra contra-absolute"') :]
    absolute = absolute[: absolute.index("</div>")]
    relative = html[html.index('class="contra contra-relative"') :]
    relative = relative[: relative.index("</div>")]
    for c in protocol.absolute:
        assert f"<strong>{c.label}</strong>" in absolute
    for c in protocol.relative:
        assert f"<strong>{c.label}</strong>" in relative
    assert "<strong>Takes anticoagulants or antiplatelets</strong>" in relative
    assert "Absolute: do not apply" in html and "Relative: adapt or get clearance" in html
    assert 'class="marker redflag"' in html and "Screen for red flags first" in html
    assert 'id="procedure-h">Procedure' in html and "<h2>Positioning</h2>" in html
    assert "<table>" in html
    assert 'id="homecare-h">Home care' in html
    assert "<strong>At home</strong>" in html
    assert 'rel="noopener noreferrer nofollow">https://doi.org/' in html


def test_sensitive_area_protocol_is_marked(login_as) -> None:
    sensitive = next(p for p in get_library() if p.sensitive_area)
    html = html_of(login_as("therapist").get(f"/protocols/{sensitive.id}"))
    assert 'class="marker sensitive"' in html
    assert "written consent before every treatment" in html


def test_unknown_protocol_is_404(login_as) -> None:
    assert login_as("therapist").get("/protocols/tp-no-such-thing").status_code == 404


# --- the clinic's own protocols ------------------------------------------------------------

HOSTILE = """## Steps

<script>window.__pwned = 1</script>
<img src="http://evil.example/x.png" onerror="window.__pwned = 1">
[click](javascript:window.__pwned=1)

| a | b |
|---|---|
| 1 | 2 |
"""


def test_clinic_protocol_is_listed_marked_and_sanitised(app: Flask, login_as) -> None:
    clinic_dir = Path(app.config["CLINIC_PROTOCOLS_DIR"])
    front = s.meta(
        "tp-house-special", title="House special release", home_care="<script>x()</script>Rest."
    )
    s.write(clinic_dir, front, HOSTILE)
    reload_library(app)
    c = login_as("therapist")
    index = html_of(c.get("/protocols/"))
    card = index[index.index("House special release") :]
    card = card[: card.index("</li>\n</ul>")]
    assert '<li class="marker clinic">Clinic\'s own</li>' in card
    html = html_of(c.get("/protocols/tp-house-special"))
    assert '<li class="marker clinic">Clinic\'s own</li>' in html
    assert "<h2>Steps</h2>" in html and "<table>" in html
    for bad in ("<script", "onerror", "javascript:", "<img", "evil.example", "__pwned"):
        assert bad not in html, bad


def test_clinic_override_replaces_the_shipped_protocol(app: Flask, login_as) -> None:
    clinic_dir = Path(app.config["CLINIC_PROTOCOLS_DIR"])
    s.write(clinic_dir, s.meta("tp-upper-trapezius", title="Our upper trapezius routine"))
    reload_library(app)
    html = html_of(login_as("therapist").get("/protocols/tp-upper-trapezius"))
    assert "<h1>Our upper trapezius routine</h1>" in html
    assert "replaces the protocol of the same id" in html


# --- the contraindication check against a patient ------------------------------------------


def _audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_check_against_a_patient_shows_matches_and_is_audited(login_as, world) -> None:
    c = login_as("therapist")
    url = f"/protocols/tp-upper-trapezius?patient_id={world.patient.id}"
    html = html_of(c.get(url))
    assert f"Checked against {world.patient.display_name}" in html
    assert "Relative:</strong> Takes anticoagulants or antiplatelets is a relative" in html
    [event] = _audit("health_history:view")
    assert event.patient_id == world.patient.id and event.actor_id == world.therapist.id
    assert event.details["protocol"] == "tp-upper-trapezius"


def test_check_shows_an_absolute_match(login_as, world) -> None:
    protocol = get_library().get("tp-upper-trapezius")
    code = protocol.absolute[0].code
    f.make_history(world.patient, world.therapist, [code])
    db.session.commit()
    html = html_of(
        login_as("therapist").get(f"/protocols/{protocol.id}?patient_id={world.patient.id}")
    )
    assert f"Absolute:</strong> {CONDITIONS[code].label} is an absolute" in html
    assert "patient-check check-blocked" in html


def test_check_without_history_or_without_matches(login_as, world) -> None:
    c = login_as("therapist")
    bare = f.make_patient(world.clinic)
    db.session.commit()
    html = html_of(c.get(f"/protocols/tp-upper-trapezius?patient_id={bare.id}"))
    assert "No health history is on file" in html
    f.make_history(bare, world.therapist, ["migraine"])
    db.session.commit()
    html = html_of(c.get(f"/protocols/dt-upper-back?patient_id={bare.id}"))
    assert "is a contraindication to this protocol" in html and "patient-check check-clear" in html


def test_check_cannot_reach_another_clinics_patient(login_as, world) -> None:
    c = login_as("therapist")
    url = f"/protocols/tp-upper-trapezius?patient_id={world.other_patient.id}"
    assert c.get(url).status_code == 404
    assert _audit("health_history:view") == []
