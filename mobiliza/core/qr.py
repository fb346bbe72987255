"""QR codes for share links (operations, texting campaigns, public surveys), drawn with segno.

One place fixes the error correction level (M: readable when a phone screen is photographed
from a little way off); callers choose the size and colour that fit their page.
"""

from __future__ import annotations

import io
from typing import Any

import segno


def qr_svg_inline(url: str, **style: Any) -> str:
    """An `<svg>` element to embed in a page."""
    return str(segno.make(url, error="m").svg_inline(**style))


def qr_svg_file(url: str, **style: Any) -> bytes:
    """A standalone SVG document (with its XML declaration) to serve as image/svg+xml."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", **style)
    return buffer.getvalue()
