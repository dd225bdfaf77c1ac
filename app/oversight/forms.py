"""Forms of the compliance pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional, ValidationError

from app.forms import strip_filter


class SettingsForm(FlaskForm):
    working_day_minutes = IntegerField(
        "A therapist's working day (minutes)",
        [InputRequired(), NumberRange(min=30, max=24 * 60)],
        description="More visit-minutes than this in one day is flagged. 480 is 8 hours.",
    )
    snoop_min_patients = IntegerField(
        "Charts of patients never treated",
        [InputRequired(), NumberRange(min=1, max=10000)],
        description="List staff who opened the charts of at least this many such patients…",
    )
    snoop_window_days = IntegerField(
        "…within this many days", [InputRequired(), NumberRange(min=1, max=366)]
    )


class BillingFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter, changes nothing

    therapist = SelectField("Therapist", choices=[], validate_choice=False)
    date_from = DateField("Issued from", [Optional()])
    date_to = DateField("Issued to", [Optional()])

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")


class PurgeForm(FlaskForm):
    confirm = StringField(
        "Type the patient number to confirm",
        [DataRequired("Type the patient number to confirm.")],
        filters=[strip_filter],
    )

    def __init__(self, patient_id: int, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.patient_id = patient_id

    def validate_confirm(self, field: StringField) -> None:
        if field.data != str(self.patient_id):
            raise ValidationError("That is not this patient's number; nothing was purged.")
