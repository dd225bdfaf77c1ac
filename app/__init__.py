"""Stillpoint: treatment notes, protocol library and receipts for massage clinics."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import load_config
from app.extensions import csrf, db, limiter, login_manager, migrate


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application: config, extensions, blueprints, errors, CLI."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("STILLPOINT_INSTANCE_PATH") or None,
        instance_relative_config=True,
        template_folder="../templates",
    )
    load_config(app, test_config)
    register_extensions(app)
    register_blueprints(app)

    from app import cli, security
    from app.errors import register_errors

    register_errors(app)
    security.init_app(app)
    cli.init_app(app)
    if hops := int(app.config["PROXY_FIX_HOPS"]):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app


def register_extensions(app: Flask) -> None:
    from app import auth

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    auth.init_login(login_manager)


def register_blueprints(app: Flask) -> None:
    from app.admin.routes import bp as admin_bp
    from app.auth.routes import bp as auth_bp
    from app.main.routes import bp as main_bp
    from app.patients.routes import bp as patients_bp
    from app.protocols import init_app as init_protocols
    from app.protocols.routes import bp as protocols_bp
    from app.receipts.routes import bp as receipts_bp
    from app.visits.routes import bp as visits_bp

    for bp in (main_bp, auth_bp, patients_bp, visits_bp, protocols_bp, admin_bp):
        app.register_blueprint(bp)
    app.register_blueprint(receipts_bp)
    from app.oversight.routes import bp as oversight_bp

    app.register_blueprint(oversight_bp)
    from app.portal import init_app as init_portal

    init_portal(app)
    init_protocols(app)

    from app import vocab
    from app.authz import can
    from app.urls import init_urls
    from app.vocab import CONDITIONS, label

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(
        can=can,
        vocab_label=label,
        CONDITIONS=CONDITIONS,
        vocab=vocab,
        has_endpoint=lambda endpoint: endpoint in app.view_functions,
    )
    init_urls(app)
