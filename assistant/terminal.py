"""Text for a terminal: what a file name, a memory or a pasted line holds is shown, never
obeyed."""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and C1 (ESC and CSI start escape sequences).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """Control characters shown as \\xNN instead of being obeyed."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
