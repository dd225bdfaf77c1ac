"""Forms for starting, charting, signing and amending a visit."""

from __future__ import annotations

from datetime import date, time

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Form,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields import FieldList, FormField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.forms import MultiCheckboxField, choices, strip_filter
from app.vocab import MARK_KINDS, MUSCLES, RED_FLAG_DECISIONS, RED_FLAGS, REGIONS, SIDES, SYMPTOMS

F = [strip_filter]
DURATIONS = [15, 30, 45, 60, 75, 90, 120]
NPRS = choices([("", "—")] + [(str(n), str(n)) for n in range(11)])
BLANK_MARK_ROWS = 3


def _vocab_choices(vocabulary, blank: str = "—"):
    return choices([("", blank)] + [(t.code, t.label) for t in vocabulary.values()])


def _nprs(label: str) -> SelectField:
    return SelectField(
        label,
        choices=NPRS,
        coerce=lambda v: int(v) if v not in (None, "") else None,
        validate_choice=False,
    )


class VisitStartForm(FlaskForm):
    visit_date = DateField("Date", [DataRequired()], default=date.today)
    start_time = TimeField("Start time", [DataRequired()], default=lambda: time(9, 0))
    duration_minutes = SelectField(
        "Duration",
        choices=choices((str(m), f"{m} minutes") for m in DURATIONS),
        coerce=int,
        default=60,
    )
    location_id = SelectField("Location", coerce=int, choices=[], validate_choice=False)
    copy_last = BooleanField("Start from the last visit (copy findings, impression and plan)")


class MarkForm(Form):
    region = SelectField("Region", choices=_vocab_choices(REGIONS), validate_choice=True)
    side = SelectField("Side", choices=_vocab_choices(SIDES), validate_choice=True)
    kind = SelectField("Mark", choices=choices((t.code, t.label) for t in MARK_KINDS.values()))
    intensity = IntegerField("Intensity (0–10)", [Optional(), NumberRange(0, 10)])


class TriggerPointForm(Form):
    muscle = SelectField("Muscle", choices=_vocab_choices(MUSCLES), validate_choice=True)
    side = SelectField("Side", choices=_vocab_choices(SIDES), validate_choice=True)
    status = SelectField("Status", choices=choices([("active", "Active"), ("latent", "Latent")]))
    referral = StringField("Referral pattern", [Optional(), Length(max=300)], filters=F)


class AppliedForm(Form):
    applied_id = HiddenField()
    side = SelectField("Side", choices=_vocab_choices(SIDES), validate_choice=True)
    minutes = IntegerField("Minutes", [Optional(), NumberRange(1, 180)])
    pressure = SelectField(
        "Pressure",
        choices=choices(
            [
                ("", "—"),
                ("light", "Light"),
                ("moderate", "Moderate"),
                ("firm", "Firm"),
                ("deep", "Deep"),
            ]
        ),
    )
    response = StringField("Patient's response", [Optional(), Length(max=1000)], filters=F)


def _red_flag_fields() -> dict[str, RadioField]:
    return {
        f"rf_{code}": RadioField(
            term.label, choices=choices([("no", "No"), ("yes", "Yes")]), validators=[Optional()]
        )
        for code, term in RED_FLAGS.items()
    }


class _VisitFormBase(FlaskForm):
    lock_version = HiddenField()
    # schedule
    visit_date = DateField("Date", [DataRequired()])
    start_time = TimeField("Start time", [DataRequired()])
    duration_minutes = SelectField(
        "Duration", choices=choices((str(m), f"{m} minutes") for m in DURATIONS), coerce=int
    )
    # S
    chief_complaint = TextAreaField("Chief complaint", [Optional(), Length(max=2000)], filters=F)
    complaint_history = TextAreaField(
        "History of the complaint", [Optional(), Length(max=8000)], filters=F
    )
    symptoms = MultiCheckboxField(
        "Symptoms", choices=choices((t.code, t.label) for t in SYMPTOMS.values())
    )
    pain_before = _nprs("Pain before treatment (0–10)")
    pain_locations = TextAreaField("Where the pain is", [Optional(), Length(max=2000)], filters=F)
    aggravating = TextAreaField("What makes it worse", [Optional(), Length(max=2000)], filters=F)
    relieving = TextAreaField("What helps", [Optional(), Length(max=2000)], filters=F)
    response_to_last = TextAreaField(
        "Response to the last visit", [Optional(), Length(max=2000)], filters=F
    )
    red_flag_decision = RadioField(
        "Decision about the positive red flags",
        choices=choices((t.code, t.label) for t in RED_FLAG_DECISIONS.values()),
        validators=[Optional()],
    )
    red_flag_detail = TextAreaField(
        "Referred to whom, cleared by whom, or why not applicable",
        [Optional(), Length(max=2000)],
        filters=F,
    )
    # O
    posture = TextAreaField("Posture", [Optional(), Length(max=4000)], filters=F)
    range_of_motion = TextAreaField("Range of motion", [Optional(), Length(max=4000)], filters=F)
    palpation = TextAreaField("Palpation", [Optional(), Length(max=4000)], filters=F)
    trigger_points = FieldList(FormField(TriggerPointForm), min_entries=0)
    marks = FieldList(FormField(MarkForm), min_entries=0)
    # Treatment
    applied = FieldList(FormField(AppliedForm), min_entries=0)
    treatment_notes = TextAreaField("Treatment notes", [Optional(), Length(max=8000)], filters=F)
    sensitive_consent = BooleanField(
        "Written consent for the sensitive areas was obtained for this visit"
    )
    # A
    clinical_impression = TextAreaField(
        "Assessment / clinical impression", [Optional(), Length(max=8000)], filters=F
    )
    treatment_response = TextAreaField(
        "Response to treatment", [Optional(), Length(max=4000)], filters=F
    )
    pain_after = _nprs("Pain after treatment (0–10)")
    # P
    plan = TextAreaField("Treatment plan", [Optional(), Length(max=4000)], filters=F)
    frequency = StringField("Frequency", [Optional(), Length(max=200)], filters=F)
    next_visit = StringField("Next visit", [Optional(), Length(max=200)], filters=F)
    home_care = TextAreaField("Home care advice", [Optional(), Length(max=8000)], filters=F)
    home_care_none = BooleanField("No home care given")
    referrals = TextAreaField("Referrals", [Optional(), Length(max=2000)], filters=F)
    # protocol search inside the note form (works without JavaScript)
    protocol_query = StringField("Find a protocol", [Optional(), Length(max=100)], filters=F)


VisitForm = type("VisitForm", (_VisitFormBase,), _red_flag_fields())


class AcknowledgeForm(FlaskForm):
    reason = TextAreaField(
        "Why it is appropriate to go ahead, and how you will adapt the treatment",
        [InputRequired(message="Give the reason for going ahead."), Length(min=10, max=2000)],
        filters=F,
    )
    confirm_absolute = BooleanField("I have medical clearance for this absolute contraindication")


class AmendmentForm(FlaskForm):
    reason = StringField("Reason for the amendment", [DataRequired(), Length(max=500)], filters=F)
    text = TextAreaField("Amendment", [DataRequired(), Length(max=8000)], filters=F)
