"""Canonical form and SHA-256 fingerprint of certificate content (the pure part).

The canonical form is UTF-8 JSON with sorted keys and no whitespace. Decimals are written as
strings in plain notation keeping their places ("1.50" stays "1.50"), so amounts survive a
round trip through JSON unchanged; dates and datetimes are ISO 8601, datetimes in UTC (naive
ones are taken as UTC, as the database stores them). Re-encoding the parsed canonical JSON
gives the same bytes, so a stored certificate can be verified later.
"""

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

from quality.errors import InvalidContent


def _plain(value: object, path: str) -> object:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # a StrEnum becomes its value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidContent(None, path, reason=f"{path} is not a finite number")
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidContent(None, path, reason=f"{path} is not a finite number")
        return format(value, "f")
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        plain: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidContent(None, path, reason=f"key {key!r} in {path} is not text")
            plain[str(key)] = _plain(item, f"{path}.{key}")
        return plain
    if isinstance(value, list | tuple):
        return [_plain(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise InvalidContent(None, path, reason=f"{path} has type {type(value).__name__}")


def canonical_json(content: Mapping) -> bytes:
    """UTF-8 JSON, sorted keys, no spaces, Decimals as strings, ISO 8601 dates, no NaN."""
    if not isinstance(content, Mapping):
        raise InvalidContent(None, None, reason="the content is not a mapping")
    text = json.dumps(
        _plain(content, "$"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return text.encode("utf-8")


def content_sha256(content: Mapping) -> str:
    """Lower-case hex SHA-256 of the canonical JSON."""
    return hashlib.sha256(canonical_json(content)).hexdigest()


def verify(content: Mapping, sha256: str) -> bool:
    """True when the content hashes to `sha256` (constant-time comparison)."""
    expected = content_sha256(content).encode("ascii")
    given = sha256.strip().lower().encode("utf-8")
    return hmac.compare_digest(expected, given)
