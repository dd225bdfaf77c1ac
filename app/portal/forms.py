"""Portal forms. Every one carries a CSRF token (Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, PasswordField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Optional
from wtforms.widgets import PasswordInput

from app.security import MIN_PASSWORD_LENGTH


class AcceptInviteForm(FlaskForm):
    """Set a portal password from an invitation link, confirming the date of birth."""

    date_of_birth = DateField(
        "Your date of birth",
        validators=[DataRequired("Enter your date of birth, e.g. 1980-04-30.")],
        description="To confirm the invitation reached the right person.",
    )
    # Entries are kept when the form comes back with an error (the page is never cached).
    password = PasswordField(
        "Choose a password",
        validators=[
            DataRequired("Choose a password."),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=1024,
                message=f"Use at least {MIN_PASSWORD_LENGTH} characters.",
            ),
        ],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. A short sentence works well.",
        widget=PasswordInput(hide_value=False),
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[
            DataRequired("Repeat the password."),
            EqualTo("password", message="The two entries differ."),
        ],
        widget=PasswordInput(hide_value=False),
    )


class RecordRequestForm(FlaskForm):
    note = TextAreaField(
        "Anything the clinic should know (optional)",
        validators=[Optional(), Length(max=2000)],
        description="For example, the period you are most interested in.",
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
