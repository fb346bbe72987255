"""The agent's own phone: the app opens the phone's dialer with a ``tel:`` link (E.164).
No cost, no auto-detection: the agent chooses the status."""

from __future__ import annotations

import re

from mobiliza.calling.providers.base import CallRequest, CallStart

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class OwnPhone:
    key = "own_phone"
    auto_detects = False

    def start(self, request: CallRequest) -> CallStart:
        if not _E164.match(request.to_e164):
            raise ValueError("not an E.164 number")
        return CallStart(dial_url=f"tel:{request.to_e164}", auto_detects=False)


def tel_url(e164: str) -> str:
    return OwnPhone().start(CallRequest(e164, "", "", "")).dial_url
