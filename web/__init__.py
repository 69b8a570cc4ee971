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
    proxies = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if proxies:
        # The client address and scheme as the trusted reverse proxies saw them (the rightmost
        # `proxies` entries of X-Forwarded-For / -Proto); without proxies the headers are ignored.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    # Ids in URLs are database integers: larger numbers are simply not found (404).
    from werkzeug.routing import IntegerConverter

    class DatabaseId(IntegerConverter):
        """Any whole number matches the route; one beyond 32 bits becomes 0, an id that never
        exists, so the answer is the record's 404 (not a routing 405 or a database error)."""

        def to_python(self, value: str) -> int:
            number = super().to_python(value)
            return number if number <= 2**31 - 1 else 0

    app.url_map.converters["int"] = DatabaseId

    from flask.json.provider import DefaultJSONProvider

    class GuardedJSON(DefaultJSONProvider):
        """A body nested too deeply is bad input (400), not a RecursionError (500)."""

        def loads(self, s, **kwargs):
            try:
                return super().loads(s, **kwargs)
            except RecursionError:
                raise ValueError("JSON nested too deeply") from None

    app.json = GuardedJSON(app)

    from web import assets, auth, db, errors, formatting, i18n, labels, logconfig, security

    logconfig.init_app(app)
    db.init_app(app)
    i18n.init_app(app)
    labels.init_app(app)
    formatting.init_app(app)
    security.init_app(app)
    assets.init_app(app)
    auth.init_app(app)
    errors.init_app(app)

    from web.api import api_bp
    from web.views import register_views

    register_views(app)
    app.register_blueprint(api_bp)
    return app
