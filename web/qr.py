"""QR codes as inline SVG (no script, no image request: the CSP stays strict)."""

import segno
from markupsafe import Markup


def qr_svg(text: str, title: str, scale: int = 3) -> Markup:
    """An inline SVG QR code of `text` (error correction M), named by `title` for readers."""
    code = segno.make(text, error="m", micro=False)
    return Markup(code.svg_inline(scale=scale, title=title, svgclass="qr"))
