"""SMS length rules (GSM 03.38): which encoding a text needs and how many segments it costs.

The same rules run in the browser (texting/static/texting/sms.js); a test keeps them in step.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = "^{}\\[~]|€\f"
_BASIC = frozenset(GSM7_BASIC)
_EXTENDED = frozenset(GSM7_EXTENDED)


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int
    remaining: int  # units left in the last segment


def sms_length(text: str) -> SmsLength:
    if all(ch in _BASIC or ch in _EXTENDED for ch in text):
        units = sum(2 if ch in _EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return SmsLength(encoding, units, 1 if units else 0, single, single - units)
    segments = -(-units // multi)
    return SmsLength(encoding, units, segments, multi, segments * multi - units)
