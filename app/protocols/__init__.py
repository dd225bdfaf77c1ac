"""The protocol library: loaded once per process, searched in memory.

``init_app`` loads it in ``create_app`` and keeps it in
``app.extensions["protocols"]``; views and services call ``get_library()``.
Files that fail validation are logged as warnings and skipped: the app
still starts. ``reload_library`` re-reads the folders (tests and the CLI).
"""

from __future__ import annotations

from flask import Flask, current_app

from app.protocols.library import Library, LoadProblem, Protocol, load_library

__all__ = ["Library", "LoadProblem", "Protocol", "get_library", "init_app", "reload_library"]

EXTENSION_KEY = "protocols"


def load_configured(app: Flask) -> Library:
    """Load the library from the folders named in ``app``'s configuration."""
    return load_library(app.config["PROTOCOLS_DIR"], app.config["CLINIC_PROTOCOLS_DIR"])


def reload_library(app: Flask) -> Library:
    """Read the protocol folders again and make the result ``app``'s library."""
    library = load_configured(app)
    for problem in library.problems:
        app.logger.warning("Protocol file skipped: %s", problem)
    app.extensions[EXTENSION_KEY] = library
    return library


def init_app(app: Flask) -> None:
    reload_library(app)


def get_library() -> Library:
    """The current app's protocol library."""
    return current_app.extensions[EXTENSION_KEY]
