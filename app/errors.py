"""Friendly error pages. Any error rolls back the request's transaction."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db
from app.oversight.retention import RecordsPurged

MESSAGES = {
    400: ("Something was wrong with that request", "Please go back and try again."),
    403: ("You do not have access to this page", "Ask the clinic owner if you think you should."),
    404: ("Not found", "The page or record you asked for does not exist here."),
    405: ("Not allowed", "That action cannot be done this way."),
    409: ("That cannot be done to this record", "It is kept as it is; see the message above."),
    413: ("That file is too large", "Please choose a smaller file."),
    429: ("Too many attempts", "Please wait a minute before trying again."),
    500: ("Something went wrong on our side", "Nothing you entered was saved. Please try again."),
}


def _render(code: int, detail: str | None = None):
    title, hint = MESSAGES.get(code, MESSAGES[500])
    return render_template("errors/error.html", code=code, title=title, hint=detail or hint), code


def register_errors(app: Flask) -> None:
    """Install the handlers for HTTP errors, CSRF failures and crashes."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        db.session.rollback()
        return _render(400, "The form expired or was sent from elsewhere. Reload it and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        db.session.rollback()
        return _render(error.code or 500)

    @app.errorhandler(RecordsPurged)
    def records_purged(error: RecordsPurged):
        db.session.rollback()
        return _render(409, str(error))

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError):
        db.session.rollback()
        return _render(500)
