"""Canonical certificate content and its SHA-256 fingerprint (pure: no database)."""

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from quality.certificates import canonical_json, content_sha256, verify
from quality.errors import InvalidContent
from quality.grading import Outcome

CONTENT = {
    "lot": "L-2025-0042",
    "grade": {"code": "ISRI-BIRCH-CLIFF", "version": 1},
    "outcome": Outcome.CONFORMS,
    "recycled_share_pct": D("100.0"),
    "net_t": D("24.480"),
    "results": [{"parameter": "cu_pct", "value": D("96.12")}],
    "issuer": "循環リサイクル株式会社",
    "assayed_on": date(2025, 3, 31),
    "issued_at": datetime(2025, 4, 1, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo")),
}


def test_canonical_json_is_compact_sorted_utf8_with_decimals_as_strings():
    content = {
        "b": D("1.50"),
        "a": "循環",
        "d": date(2025, 1, 31),
        "t": datetime(2025, 1, 31, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")),
        "n": [1, True, None],
    }
    assert (
        canonical_json(content)
        == (
            '{"a":"循環","b":"1.50","d":"2025-01-31","n":[1,true,null],'
            '"t":"2025-01-31T00:00:00+00:00"}'
        ).encode()
    )


def test_sha256_of_empty_content_is_the_known_digest_of_braces():
    assert content_sha256({}) == hashlib.sha256(b"{}").hexdigest()
    assert content_sha256({}) == (
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )


def test_key_order_does_not_change_the_hash():
    reordered = dict(reversed(list(CONTENT.items())))
    assert content_sha256(reordered) == content_sha256(CONTENT)


def test_the_same_instant_in_any_zone_and_naive_utc_hash_alike():
    tokyo = {"at": datetime(2025, 4, 1, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo"))}
    utc = {"at": datetime(2025, 4, 1, 0, 30, tzinfo=UTC)}
    naive = {"at": datetime(2025, 4, 1, 0, 30)}  # as read back from the database: UTC
    assert content_sha256(tokyo) == content_sha256(utc) == content_sha256(naive)


def test_decimals_keep_their_places_and_never_use_exponents():
    assert canonical_json({"x": D("1E+1"), "y": D("1E-7"), "z": D("2.50")}) == (
        b'{"x":"10","y":"0.0000001","z":"2.50"}'
    )


def test_parsing_and_re_encoding_canonical_json_gives_the_same_bytes():
    encoded = canonical_json(CONTENT)
    assert canonical_json(json.loads(encoded)) == encoded
    assert verify(json.loads(encoded), content_sha256(CONTENT))


def test_verify_accepts_the_content_it_was_hashed_from():
    digest = content_sha256(CONTENT)
    assert verify(CONTENT, digest)
    assert verify(CONTENT, digest.upper())


@pytest.mark.parametrize(
    "tampered",
    [
        {**CONTENT, "net_t": D("24.481")},
        {**CONTENT, "net_t": D("24.48")},  # one place less is another claim
        {**CONTENT, "results": [{"parameter": "cu_pct", "value": D("96.13")}]},
        {**CONTENT, "outcome": Outcome.CONFORMS_WITH_DEDUCTIONS},
        {k: v for k, v in CONTENT.items() if k != "issuer"},
    ],
)
def test_verify_detects_any_change_of_the_content(tampered):
    assert not verify(tampered, content_sha256(CONTENT))


def test_verify_rejects_a_malformed_digest():
    assert not verify(CONTENT, content_sha256(CONTENT)[:-1])
    assert not verify(CONTENT, "")


@pytest.mark.parametrize(
    "bad",
    [
        {"x": D("NaN")},
        {"x": D("Infinity")},
        {"x": float("nan")},
        {"x": {1, 2}},
        {1: "not a text key"},
        {"x": object()},
    ],
)
def test_content_without_a_canonical_form_is_refused(bad):
    with pytest.raises(InvalidContent):
        canonical_json(bad)


def test_content_must_be_a_mapping():
    with pytest.raises(InvalidContent):
        canonical_json([1, 2])  # type: ignore[arg-type]
