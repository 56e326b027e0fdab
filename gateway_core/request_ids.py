"""``X-Request-ID``: keep a well-formed one from the client, otherwise make one."""

from __future__ import annotations

import os
import re

HEADER = "X-Request-ID"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def choose_request_id(supplied: str | None) -> str:
    if supplied and _WELL_FORMED.fullmatch(supplied):
        return supplied
    return "req_" + os.urandom(12).hex()
