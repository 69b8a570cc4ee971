"""Static files: versioned URLs and cache headers.

`url_for('static', filename=…)` adds `?v=` and the first 12 hex digits of the file's SHA-256,
so a changed file gets a new URL: a request carrying the current version is cached for a year
(`immutable`); one without it (or with an old one) for an hour. Every answer carries the
content hash as its ETag, the same on every app machine, so a revalidation gets a 304.
"""

import hashlib
import os

from flask import Flask, request, send_from_directory
from werkzeug.security import safe_join

LONG_MAX_AGE_S = 365 * 24 * 3600
SHORT_MAX_AGE_S = 3600
VERSION_CHARS = 12


class StaticDigests:
    """SHA-256 of the static files, computed once per file version (its size and mtime)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._known: dict[str, tuple[int, int, str]] = {}

    def digest(self, filename: str) -> str | None:
        """The file's SHA-256 (hex), or None when it is not a file of the folder."""
        path = safe_join(self.folder, filename)
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        known = self._known.get(filename)
        if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
            return known[2]
        try:
            with open(path, "rb") as file:
                digest = hashlib.file_digest(file, "sha256").hexdigest()
        except (IsADirectoryError, PermissionError):
            return None
        self._known[filename] = (stat.st_size, stat.st_mtime_ns, digest)
        return digest


def init_app(app: Flask) -> None:
    digests = StaticDigests(app.static_folder or "")

    @app.url_defaults
    def _versioned(endpoint: str | None, values: dict) -> None:
        if endpoint == "static" and "v" not in values:
            digest = digests.digest(values.get("filename", ""))
            if digest:
                values["v"] = digest[:VERSION_CHARS]

    def static(filename: str):
        digest = digests.digest(filename)
        current = digest is not None and request.args.get("v") == digest[:VERSION_CHARS]
        response = send_from_directory(
            app.static_folder or "",
            filename,
            max_age=LONG_MAX_AGE_S if current else SHORT_MAX_AGE_S,
            etag=digest or True,
        )
        if current:
            response.cache_control.immutable = True
        return response

    app.view_functions["static"] = static
