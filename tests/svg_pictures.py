"""Reading the server-drawn pictures of a page: each <img> with an SVG, as a data URI (decoded)
or at an address of the app (sparklines: fetched with the test client given)."""

import base64
import html
import re

IMG = re.compile(r'<img class="(?P<cls>[^"]*)" src="(?P<src>[^"]+)" alt="(?P<alt>[^"]*)"')
DATA_URI = "data:image/svg+xml;base64,"


def pictures(page: str, client=None) -> list[tuple[str, str, str]]:
    """(class, alt text, SVG source) of each picture of a page, in page order. A picture at an
    address is fetched with `client` (it must answer an SVG); without a client its SVG source
    is left as the address."""
    found = []
    for m in IMG.finditer(page):
        src = html.unescape(m["src"])
        if src.startswith(DATA_URI):
            svg = base64.b64decode(src[len(DATA_URI) :]).decode()
        elif client is not None:
            response = client.get(src)
            assert response.status_code == 200 and response.mimetype == "image/svg+xml", src
            svg = response.get_data(as_text=True)
        else:
            svg = src
        found.append((m["cls"], html.unescape(m["alt"]), svg))
    return found


def texts(svg: str) -> list[str]:
    """The visible words of an SVG drawn by matplotlib (its text stays text)."""
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def path_of(svg: str, gid: str) -> list[tuple[float, float]]:
    """The vertices of the first path in the group `gid` (SVG coordinates: y grows down)."""
    group = re.search(rf'<g id="{gid}">\s*<path d="([^"]+)"', svg)
    assert group is not None, f"no {gid} in the picture"
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", group.group(1))]
    return list(zip(numbers[::2], numbers[1::2], strict=True))
