"""Junkan web application: the only package that imports Flask."""

from flask import Flask

from web.config import ROOT, load_config


def create_app(config: dict | None = None) -> Flask:
    """Application factory: settings from the environment, overridden by `config`."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "web" / "static"),
    )
    app.config.update(load_config())
    if config:
        app.config.update(config)
    # Ids in URLs are database integers: larger numbers are simply not found (404).
    from werkzeug.routing import IntegerConverter

    class DatabaseId(IntegerConverter):
        def __init__(self, map, *args, **kwargs) -> None:
            kwargs.setdefault("max", 2**31 - 1)
            super().__init__(map, *args, **kwargs)

    app.url_map.converters["int"] = DatabaseId

    from web import auth, db, errors, i18n, logconfig, security

    logconfig.init_app(app)
    db.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    errors.init_app(app)

    from web.api import api_bp
    from web.views import register_views

    register_views(app)
    app.register_blueprint(api_bp)
    return app
