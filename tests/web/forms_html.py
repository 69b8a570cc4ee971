"""Read a page's form back as the browser would send it (to check that typed values are kept)."""

import re
from html.parser import HTMLParser


class _FormValues(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.values.setdefault(name, []).append(a.get("value") or "y")
            elif kind not in ("submit", "button"):
                self.values.setdefault(name, []).append(a.get("value") or "")
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select].append(a.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = [""]

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea][0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if tag == "textarea" and self._textarea:
            text = self.values[self._textarea][0]
            # A browser drops the newline that follows <textarea> (HTML's parsing rule).
            self.values[self._textarea][0] = text.removeprefix("\r\n").removeprefix("\n")
            self._textarea = None


def form_values(html: str) -> dict[str, list[str]]:
    """Every named control's value(s) as the page would submit them (selected options only)."""
    parser = _FormValues()
    parser.feed(html)
    return parser.values


def field_errors(html: str) -> dict[str, list[str]]:
    """The error messages under each field, by field id."""
    out: dict[str, list[str]] = {}
    for field_id, message in re.findall(r'<p class="error" id="([^"]+)-error">([^<]*)</p>', html):
        out.setdefault(field_id, []).append(message)
    return out
