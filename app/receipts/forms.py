from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.forms import MultiCheckboxField, choices, strip_filter
from app.models import PAYMENT_METHODS

F = [strip_filter]
MONEY = [InputRequired("Enter an amount, e.g. 120.00."), NumberRange(min=0, max=10000)]


class FeeRowForm(Form):
    """One line of the fee schedule (a sub-form: the outer form carries the CSRF token)."""

    minutes = IntegerField("Minutes", [Optional(), NumberRange(min=5, max=600)])
    fee = DecimalField("Price ($)", [Optional(), NumberRange(min=0, max=10000)], places=2)


class BillingForm(FlaskForm):
    tax_name = StringField(
        "Tax name", [DataRequired(), Length(max=20)], filters=F, description="e.g. HST"
    )
    tax_rate = DecimalField(
        "Tax rate (%)",
        [InputRequired(), NumberRange(min=0, max=100)],
        places=3,
        description="13 for Ontario HST. 0 when the clinic charges no tax.",
    )
    payment_methods = MultiCheckboxField(
        "Accepted payment methods", choices=choices(PAYMENT_METHODS.items())
    )
    fees = FieldList(FormField(FeeRowForm), label="Fee schedule", min_entries=1)

    def fee_map(self) -> dict[int, Decimal]:
        return {
            row.minutes.data: row.fee.data
            for row in self.fees
            if row.minutes.data and row.fee.data is not None
        }

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not self.payment_methods.data:
            self.payment_methods.errors = ["Accept at least one payment method."]
            ok = False
        seen: set[int] = set()
        for row in self.fees:
            minutes, fee = row.minutes.data, row.fee.data
            if minutes and fee is None:
                row.fee.errors = [*row.fee.errors, "Enter the price for this length."]
                ok = False
            elif fee is not None and not minutes:
                row.minutes.errors = [*row.minutes.errors, "Enter the length in minutes."]
                ok = False
            elif minutes in seen:
                row.minutes.errors = [*row.minutes.errors, "This length is listed twice."]
                ok = False
            if minutes:
                seen.add(minutes)
        return ok


class IssueForm(FlaskForm):
    fee = DecimalField("Fee before tax ($)", MONEY, places=2)
    payment_method = SelectField("Payment method", choices=[])
    reason = TextAreaField(
        "Reason for a fee that departs from the schedule",
        [Optional(), Length(max=500)],
        filters=F,
        description="Required when the fee differs from the clinic's fee schedule.",
    )


class MissedFeeForm(FlaskForm):
    fee = DecimalField("Fee before tax ($)", MONEY, places=2)
    payment_method = SelectField("Paid by", choices=[])
    note = TextAreaField("Note", [Optional(), Length(max=500)], filters=F)


class ReissueForm(FlaskForm):
    reason = StringField(
        "Why is a copy needed? (optional)",
        [Optional(), Length(max=200)],
        filters=F,
        description="e.g. the patient lost the original",
    )


class VoidForm(FlaskForm):
    reason = TextAreaField(
        "Reason for voiding",
        [DataRequired("Give the reason for voiding the receipt."), Length(max=500)],
        filters=F,
        description="e.g. wrong payment method; a corrected receipt will be issued",
    )


class EmailForm(FlaskForm):
    """No fields: a CSRF-protected button."""


class SummaryForm(FlaskForm):
    date_from = DateField("From", [DataRequired()])
    date_to = DateField("To", [DataRequired()])


class StatementForm(FlaskForm):
    year = SelectField("Year", choices=[], coerce=int)


class ExportForm(FlaskForm):
    date_from = DateField("Issued from", [DataRequired()])
    date_to = DateField("Issued to", [DataRequired()])
