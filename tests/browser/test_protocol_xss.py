"""A clinic protocol carrying script payloads, opened in a real browser: nothing runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from app.protocols import reload_library
from tests import protocol_samples as s
from tests.browser.conftest import screenshot, sign_in
from tests.factories import PASSWORD

PWN = "window.__pwned = true; document.title = 'PWNED'"

BODY = f"""## Positioning

Supine, head on a low pillow, knees supported. Check comfort before starting.

<script>{PWN}</script>

## Technique

1. Warm the area with effleurage for two to three minutes.
2. Locate the taut band with flat palpation and hold steady pressure at the first barrier.
3. When the tissue softens, take up the slack and hold again; up to three cycles.

<img src="http://evil.example/pixel.png" onerror="{PWN}">
<svg onload="{PWN}"><circle r="5"/></svg>
<iframe srcdoc="<script>parent.__pwned = true</script>"></iframe>
<details open ontoggle="{PWN}"><summary>Stop</summary> if arm tingling or dizziness appears.</details>

## Dose

| element | guide |
|---|---|
| pressure | 5 to 7 out of 10 |
| hold | 30 to 90 seconds |

See the [clinic handout](javascript:{PWN}) and the <a href="https://example.org/guide" onmouseover="{PWN}">published guide</a>.
"""

HOME_CARE = f"""**At home:** a warm pack for 10 to 15 minutes, then a gentle stretch, 3 times a day.

<script>{PWN}</script>
<img src=x onerror="{PWN}">
[Watch the video](javascript:{PWN})
"""


@pytest.fixture
def hostile_protocol(app: Flask) -> str:
    """Write the payload protocol into the clinic's folder and reload the library."""
    front = s.meta(
        "tp-clinic-neck-routine",
        title="Clinic neck routine",
        summary="The clinic's own trigger point routine for the neck and shoulder.",
        home_care=HOME_CARE,
    )
    s.write(Path(app.config["CLINIC_PROTOCOLS_DIR"]), front, BODY)
    library = reload_library(app)
    assert library.get("tp-clinic-neck-routine") is not None
    return "tp-clinic-neck-routine"


def test_protocol_page_with_script_payloads_executes_nothing(page, world, hostile_protocol):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    sign_in(page, world.therapist.email, PASSWORD)
    page.get_by_role("link", name="Protocols").click()
    page.get_by_role("link", name="Clinic neck routine").click()
    page.wait_for_selector("h1:has-text('Clinic neck routine')")

    # Try to trigger every kind of handler the payloads carried.
    page.get_by_text("published guide").hover()
    page.get_by_text("clinic handout").click()
    page.get_by_text("Watch the video").click()
    page.wait_for_timeout(200)

    assert page.evaluate("window.__pwned") is None
    assert page.title() == "Clinic neck routine · Stillpoint"
    assert page.locator("main script, main img, main svg, main iframe, main details").count() == 0
    assert page.locator("[onerror], [onload], [onmouseover], [ontoggle]").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert not [url for url in requests if "evil.example" in url]
    assert page.console_errors == []  # a blocked inline script would log a CSP error here

    # The legitimate content survived: headings, the ordered steps and the table.
    assert page.get_by_role("heading", name="Technique").is_visible()
    assert page.locator(".prose table td", has_text="30 to 90 seconds").is_visible()
    assert page.locator(".marker.clinic").inner_text() == "Clinic's own"
    assert page.locator(".contra-absolute").is_visible()
    screenshot(page, "protocol-page")


def test_library_search_with_the_plain_form(page, world):
    sign_in(page, world.therapist.email, PASSWORD)
    page.goto("/protocols/")
    assert page.get_by_role("heading", name="Craniosacral techniques").is_visible()
    screenshot(page, "protocol-library")
    page.get_by_label("Search protocols").fill("upper trapezius")
    page.get_by_label("Technique", exact=True).select_option(label="Trigger point therapy")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/protocols/?q=upper+trapezius*")
    first = page.locator(".protocol-card h3 a").first
    assert first.inner_text() == "Upper trapezius trigger point release"
    assert page.get_by_label("Search protocols").input_value() == "upper trapezius"
    assert page.console_errors == []
    screenshot(page, "protocol-search")
