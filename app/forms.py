"""Form pieces shared by the feature packages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from email_validator import EmailNotValidError, validate_email
from wtforms import SelectMultipleField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

PHONE_RE = re.compile(r"^\+?[\d\s().-]{7,25}(\s*(x|ext\.?)\s*\d{1,6})?$", re.IGNORECASE)


def phone_number(form: Any, field: Any) -> None:
    """Accept common North American and international formats with 10–15 digits."""
    value = (field.data or "").strip()
    if not value:
        return
    main = re.split(r"(?i)\s*(?:x|ext\.?)\s*\d", value)[0]
    count = len(re.sub(r"\D", "", main))
    if not PHONE_RE.match(value) or not 10 <= count <= 15:
        raise ValidationError("Enter a phone number with area code, e.g. 416-555-0123.")


def not_in_future(form: Any, field: Any) -> None:
    if field.data and field.data > date.today():
        raise ValidationError("This date cannot be in the future.")


def plausible_birth_date(form: Any, field: Any) -> None:
    if field.data and field.data.year < 1900:
        raise ValidationError("Enter a date of birth after 1900.")


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (no JavaScript, one label each)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def strip_filter(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def email_address(form: Any, field: Any) -> None:
    """A syntactically valid email address (no DNS look-up).

    ``.test`` domains are accepted: the demo clinic and the tests use them.
    """
    value = (field.data or "").strip()
    if not value:
        return
    try:
        result = validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValidationError("Enter a valid email address.") from exc
    field.data = result.normalized


def choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]
