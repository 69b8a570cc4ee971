"""Reading the server-drawn pictures of a page: each <img> with a data-URI SVG, decoded."""

import base64
import html
import re

IMG = re.compile(r'<img class="(?P<cls>[^"]*)" src="data:image/svg\+xml;base64,(?P<b64>[^"]+)"'
                 r' alt="(?P<alt>[^"]*)"')  # fmt: skip


def pictures(page: str) -> list[tuple[str, str, str]]:
    """(class, alt text, SVG source) of each picture of a page, in page order."""
    return [
        (m["cls"], html.unescape(m["alt"]), base64.b64decode(m["b64"]).decode())
        for m in IMG.finditer(page)
    ]


def texts(svg: str) -> list[str]:
    """The visible words of an SVG drawn by matplotlib (its text stays text)."""
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def path_of(svg: str, gid: str) -> list[tuple[float, float]]:
    """The vertices of the first path in the group `gid` (SVG coordinates: y grows down)."""
    group = re.search(rf'<g id="{gid}">\s*<path d="([^"]+)"', svg)
    assert group is not None, f"no {gid} in the picture"
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", group.group(1))]
    return list(zip(numbers[::2], numbers[1::2], strict=True))
