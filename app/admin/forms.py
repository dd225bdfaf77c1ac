from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from app.auth.forms import new_password_field
from app.forms import choices, email_address, phone_number, strip_filter
from app.models import JURISDICTIONS, Role

F = [strip_filter]
STAFF_ROLES = [(r.value, r.label) for r in (Role.THERAPIST, Role.FRONT_DESK, Role.OWNER)]


class ClinicForm(FlaskForm):
    name = StringField("Clinic name", [DataRequired(), Length(max=200)], filters=F)
    address = TextAreaField("Address", [DataRequired(), Length(max=500)], filters=F)
    phone = StringField("Phone", [DataRequired(), phone_number], filters=F)
    email = EmailField("Email", [Optional(), email_address, Length(max=254)], filters=F)
    business_number = StringField(
        "HST / business number",
        [Optional(), Length(max=40)],
        filters=F,
        description="Printed on receipts when the clinic has one, e.g. 123456789 RT0001.",
    )
    jurisdiction = SelectField(
        "Jurisdiction", choices=choices((code, name) for code, (name, _) in JURISDICTIONS.items())
    )
    retention_years = IntegerField(
        "Keep records for (years after the last visit)",
        [DataRequired(), NumberRange(min=1, max=100)],
        description="Ontario requires at least 10 years (or 10 years after a minor turns 18).",
    )

    def validate_retention_years(self, field: IntegerField) -> None:
        minimum = JURISDICTIONS.get(self.jurisdiction.data or "", ("", 0))[1]
        if field.data is not None and field.data < minimum:
            raise ValidationError(f"This jurisdiction requires at least {minimum} years.")


class LocationForm(FlaskForm):
    name = StringField("Location name", [DataRequired(), Length(max=200)], filters=F)
    address = TextAreaField("Address", [DataRequired(), Length(max=500)], filters=F)
    phone = StringField("Phone", [Optional(), phone_number], filters=F)
    active = BooleanField("Open (appointments can be booked here)", default=True)


class StaffProfileForm(FlaskForm):
    full_name = StringField("Full name", [DataRequired(), Length(max=200)], filters=F)
    email = EmailField(
        "Email (used to sign in)", [DataRequired(), email_address, Length(max=254)], filters=F
    )
    role = SelectField("Role", choices=choices(STAFF_ROLES))
    designation = StringField(
        "Designation", [Optional(), Length(max=20)], filters=F, description="e.g. RMT"
    )
    registration_number = StringField(
        "Registration number", [Optional(), Length(max=40)], filters=F,
        description="As issued by the regulator; printed on every receipt.",
    )  # fmt: skip
    registering_body = StringField(
        "Registering body", [Optional(), Length(max=120)], filters=F,
        description="e.g. College of Massage Therapists of Ontario",
    )  # fmt: skip
    signature = FileField(
        "Signature image (PNG or JPEG)",
        validators=[FileAllowed(["png", "jpg", "jpeg"], "Upload a PNG or JPEG image.")],
        description="Printed on receipts. A scan of the signature on a white background, at most 512 KB.",
    )

    def validate(self, extra_validators=None) -> bool:
        """A therapist must have what receipts print: designation and registration number."""
        ok = super().validate(extra_validators)
        if self.role.data == Role.THERAPIST:
            for field, message in (
                (self.designation, "Enter the therapist's designation, e.g. RMT."),
                (
                    self.registration_number,
                    "A therapist needs a registration number to issue receipts.",
                ),
            ):
                if not field.data and not field.errors:
                    field.errors = [message]
                    ok = False
        return ok


class StaffCreateForm(StaffProfileForm):
    password = new_password_field("Temporary password")


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter, changes nothing

    actor = SelectField("User", choices=[], validate_choice=False)
    patient = IntegerField("Patient number", [Optional()])
    action = SelectField("Action", choices=[], validate_choice=False)
    date_from = DateField("From", [Optional()])
    date_to = DateField("To", [Optional()])
