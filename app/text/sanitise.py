"""Refuse text that cannot be an article; tame stray control characters.

Real copy does carry stray control characters (a BEL or SUB pasted from an
old system), so by default they become spaces — offsets stay the same — and
only NUL, which no text editor produces, is refused outright.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f-\x9f]")


class UnacceptableText(ValueError):
    pass


def sanitise(text: str, reject_control_chars: bool) -> str:
    nul = text.find("\x00")
    if nul >= 0:
        raise UnacceptableText(f"a NUL character at offset {nul}")
    match = _CONTROL.search(text)
    if match is None:
        return text
    if reject_control_chars:
        char = match.group()
        raise UnacceptableText(f"control character U+{ord(char):04X} at offset {match.start()}")
    return _CONTROL.sub(" ", text)
