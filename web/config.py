"""Settings from the environment, with development defaults."""

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE / 'junkan.db'}"


def normalise_database_url(url: str) -> str:
    """Accept postgres:// and postgresql:// and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    # Development: one random key kept in instance/ so sessions survive restarts.
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def _whole_number(env, name: str, default: int, minimum: int) -> int:
    """A whole-number setting from the environment, at least `minimum` (else a clear error)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def load_config() -> dict:
    env = os.environ
    production = env.get("JUNKAN_ENV") == "production"
    return {
        "DATABASE_URL": normalise_database_url(env.get("DATABASE_URL") or default_database_url()),
        "SECRET_KEY": _secret_key(),
        "PRODUCTION": production,
        "SESSION_COOKIE_SECURE": production or env.get("SESSION_COOKIE_SECURE") == "1",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        # How many reverse proxies in front of the app set X-Forwarded-For/-Proto (0: none; the
        # headers are then ignored and the client address is the connection's).
        "TRUSTED_PROXY_COUNT": _whole_number(env, "TRUSTED_PROXY_COUNT", 0, 0),
        # An API token works for this many days after it is created.
        "API_TOKEN_LIFETIME_DAYS": _whole_number(env, "API_TOKEN_LIFETIME_DAYS", 90, 1),
        # A login session ends after this many days without a request.
        "SESSION_IDLE_DAYS": _whole_number(env, "SESSION_IDLE_DAYS", 14, 1),
        # The export watch flags a critical listing priced below this percent of its grade's market.
        "WATCH_PRICE_FLOOR_PCT": _whole_number(env, "WATCH_PRICE_FLOOR_PCT", 70, 1),
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "ja",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Tokyo",
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "web" / "translations"),
        "MAIL_SERVER": env.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": env.get("MAIL_USE_TLS") == "1",
        "MAIL_SENDER": env.get("MAIL_SENDER", "Junkan <no-reply@junkan.jp>"),
        "MAIL_OUTBOX": env.get("MAIL_OUTBOX", str(INSTANCE / "outbox")),
        "BASE_URL": env.get("BASE_URL", "http://127.0.0.1:5000"),
        # Stripe: without a secret key, `junkan serve` starts a local Stripe (localstripe) and
        # offers test cards; STRIPE_API_BASE points the SDK at another server (localstripe).
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY") or env.get("STRIPE_API_KEY", ""),
        "STRIPE_PUBLISHABLE_KEY": env.get("STRIPE_PUBLISHABLE_KEY", ""),
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE", ""),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_DEMO": env.get("STRIPE_DEMO") == "1",
        "TRANSPORT_ROAD_JPY_PER_T_KM": env.get("TRANSPORT_ROAD_JPY_PER_T_KM", "25"),
        "TRANSPORT_SEA_JPY_PER_T_KM": env.get("TRANSPORT_SEA_JPY_PER_T_KM", "6"),
        "TRANSPORT_SEA_THRESHOLD_KM": env.get("TRANSPORT_SEA_THRESHOLD_KM", "500"),
        "LOG_JSON": env.get("LOG_JSON", "1") == "1",
        # `junkan serve` also runs the one scheduler, as a child process of the server (a
        # thread under waitress): the single-machine demo. Otherwise (production)
        # `junkan scheduler` runs it as its own, single process.
        "SCHEDULER_IN_PROCESS": env.get("SCHEDULER_IN_PROCESS") == "1",
        # Disclosure control of the public market statistics (market.disclosure cites the
        # sources): at least this many organisations a cell (on each side), no organisation
        # above this percent of a cell's tonnes, and suppressed cells protected to ± this percent.
        "STATS_MIN_CONTRIBUTORS": _whole_number(env, "STATS_MIN_CONTRIBUTORS", 3, 2),
        "STATS_DOMINANCE_PCT": _whole_number(env, "STATS_DOMINANCE_PCT", 70, 1),
        "STATS_PROTECTION_PCT": _whole_number(env, "STATS_PROTECTION_PCT", 10, 0),
    }


def transport_rates(config: dict):
    """Freight rates for matching from the settings (yen per tonne-km, great-circle)."""
    from market.allocation import TransportRates

    return TransportRates(
        road_jpy_per_t_km=float(config["TRANSPORT_ROAD_JPY_PER_T_KM"]),
        sea_jpy_per_t_km=float(config["TRANSPORT_SEA_JPY_PER_T_KM"]),
        sea_threshold_km=float(config["TRANSPORT_SEA_THRESHOLD_KM"]),
    )


def disclosure_rules(config: dict):
    """The disclosure rules of the public statistics from the settings."""
    from decimal import Decimal

    from market.disclosure import DisclosureRules

    return DisclosureRules(
        min_contributors=int(config.get("STATS_MIN_CONTRIBUTORS", 3)),
        dominance_pct=Decimal(config.get("STATS_DOMINANCE_PCT", 70)),
        protection_pct=Decimal(config.get("STATS_PROTECTION_PCT", 10)),
    )
