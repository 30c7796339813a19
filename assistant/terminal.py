"""Text for a terminal: what a file name, a memory or a pasted line holds is shown, never
obeyed."""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and C1 (ESC and CSI start escape sequences).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# A name (a file, a source) is one line: its tab, newline, Unicode line breaks and the bidi
# controls that show "report<RLO>fdp.exe" as "reportexe.pdf" are shown too.
_IN_A_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: object, *, one_line: bool = False) -> str:
    """Control characters shown as \\xNN (\\uNNNN) instead of being obeyed; `one_line` for
    a name or a message that must stay one line (memory text keeps its lines)."""
    return (_IN_A_NAME if one_line else CONTROL).sub(_shown, str(text))


def _shown(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
