"""Static files are cached: versioned URLs (a content hash) for a year, others for an hour,
and a revalidation with the content-hash ETag gets a 304 without the body."""

import hashlib
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"


def _version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def test_pages_link_static_files_by_a_content_hash(client):
    html = client.get("/").get_data(as_text=True)
    assert f'href="/static/app.css?v={_version("app.css")}"' in html
    assert f'href="/static/favicon.svg?v={_version("favicon.svg")}"' in html


def test_a_versioned_static_file_is_cached_for_a_year_as_immutable(client):
    r = client.get(f"/static/app.css?v={_version('app.css')}")
    assert r.status_code == 200
    assert r.data == (STATIC / "app.css").read_bytes()
    assert r.cache_control.max_age == 365 * 24 * 3600
    assert r.cache_control.public and r.cache_control.immutable
    assert r.headers["ETag"] == f'"{hashlib.sha256(r.data).hexdigest()}"'
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_an_unversioned_or_outdated_url_is_cached_for_an_hour(client):
    for url in ("/static/app.css", "/static/app.css?v=000000000000"):
        r = client.get(url)
        assert r.status_code == 200
        assert r.cache_control.max_age == 3600 and not r.cache_control.immutable


def test_a_revalidation_with_the_etag_gets_304_without_a_body(client):
    first = client.get("/static/forms.js")
    again = client.get("/static/forms.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.cache_control.max_age == 3600
    changed = client.get("/static/forms.js", headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.data == first.data


def test_a_missing_or_escaping_static_path_is_404(client):
    assert client.get("/static/nope.css").status_code == 404
    assert client.get("/static/../web/config.py").status_code == 404
    assert client.get("/static/geo").status_code == 404


def test_a_changed_file_gets_a_new_url(app, tmp_path):
    from web.assets import StaticDigests

    (tmp_path / "x.css").write_text("a{}")
    digests = StaticDigests(str(tmp_path))
    before = digests.digest("x.css")
    (tmp_path / "x.css").write_text("b{color:red}")
    after = digests.digest("x.css")
    assert before != after and re.fullmatch(r"[0-9a-f]{64}", after)
