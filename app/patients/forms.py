from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.forms import (
    MultiCheckboxField,
    choices,
    email_address,
    not_in_future,
    phone_number,
    plausible_birth_date,
    strip_filter,
)
from app.models import CONSENT_ELEMENTS
from app.vocab import CONDITIONS

F = [strip_filter]


class PatientForm(FlaskForm):
    given_name = StringField("Legal first name", [DataRequired(), Length(max=100)], filters=F)
    family_name = StringField("Legal last name", [DataRequired(), Length(max=100)], filters=F)
    preferred_name = StringField("Preferred name", [Optional(), Length(max=100)], filters=F)
    date_of_birth = DateField(
        "Date of birth",
        [DataRequired(message="Enter the date of birth."), not_in_future, plausible_birth_date],
    )
    phone = StringField("Phone", [Optional(), phone_number], filters=F)
    email = EmailField(
        "Email",
        [Optional(), email_address, Length(max=254)],
        filters=F,
    )
    address = TextAreaField("Address", [Optional(), Length(max=500)], filters=F)
    emergency_contact_name = StringField(
        "Emergency contact", [Optional(), Length(max=200)], filters=F
    )
    emergency_contact_phone = StringField(
        "Emergency contact phone", [Optional(), phone_number], filters=F
    )
    insurer = StringField("Insurer", [Optional(), Length(max=120)], filters=F)
    policy_number = StringField(
        "Policy or certificate number", [Optional(), Length(max=60)], filters=F
    )
    referral_on_file = BooleanField("Physician referral on file")
    referral_date = DateField("Referral date", [Optional(), not_in_future])
    referral_physician = StringField(
        "Referring physician", [Optional(), Length(max=200)], filters=F
    )

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if (
            self.referral_on_file.data
            and not self.referral_date.data
            and not self.referral_date.errors
        ):
            self.referral_date.errors = ["Enter the date of the referral on file."]
            ok = False
        return ok


class HealthHistoryForm(FlaskForm):
    conditions = MultiCheckboxField(
        "Conditions",
        choices=choices((t.code, t.label) for t in CONDITIONS.values()),
        validate_choice=True,
    )
    medications = TextAreaField("Medications", [Optional(), Length(max=4000)], filters=F)
    allergies = TextAreaField("Allergies", [Optional(), Length(max=2000)], filters=F)
    surgeries = TextAreaField("Surgeries and injuries", [Optional(), Length(max=4000)], filters=F)
    notes = TextAreaField("Other notes", [Optional(), Length(max=8000)], filters=F)


class ConsentForm(FlaskForm):
    given_on = DateField(
        "Date consent was given", [DataRequired(), not_in_future], default=date.today
    )
    method = RadioField(
        "How consent was given",
        choices=choices(
            [("written", "Written (signed form)"), ("verbal", "Verbal, documented here")]
        ),
        default="written",
        validators=[DataRequired()],
    )
    elements = MultiCheckboxField(
        "The patient was told about",
        choices=choices(CONSENT_ELEMENTS.items()),
        validate_choice=True,
    )
    notes = TextAreaField("Notes", [Optional(), Length(max=2000)], filters=F)

    def validate_elements(self, field: MultiCheckboxField) -> None:
        missing = [
            label for code, label in CONSENT_ELEMENTS.items() if code not in (field.data or [])
        ]
        if missing:
            raise ValidationError(
                "Informed consent must cover every element. Not yet covered: "
                + "; ".join(missing)
                + "."
            )
