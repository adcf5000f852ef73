"""A single-pass HTML tokenizer whose work is linear in the size of its input.

The standard library's HTMLParser searches the rest of its buffer again each
time a tag turns out incomplete, so ``'<a ' * 20000`` costs 25 seconds. This
scanner never moves backwards: each search starts where the previous token
ended, and the cursor then jumps past everything that search examined, so
every character is examined a bounded number of times. Where markup is
broken it does what the HTML5 tokenizer does (an unterminated tag, comment or
quoted attribute runs to the end of the document; ``<![CDATA[``, ``<!...>``
and ``<?...>`` end at the first ``>``); it never raises.

``Work.steps`` counts the characters each search or match examined plus one
per token, so tests can check that the cost grows linearly on any input.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import NamedTuple

# Why no regex below can backtrack: every quantifier on a character class is
# possessive (*+, ++, ?+), and every repeated group sits in an atomic group
# ((?>...)) with nothing after the repetition inside it, so the engine never
# returns into a choice it already made. (Python 3.11's possessive repeat of
# a group that holds a capture raises SystemError, cpython issue 101955:
# hence "(?>(?:...)*)" rather than "(?:...)*+", and no capture inside any
# repetition.) Where alternatives exist they begin with disjoint characters,
# so a failed alternative costs one character. Each regex therefore examines
# the characters it matches, plus at most one beyond, and a search
# (re.search) tries each start position in constant time.

# At a "<": a start or end tag (its name, then HTML5's attribute syntax: a
# name, optionally "=" and a quoted or unquoted value, up to ">"), or the
# character that opens a comment, a declaration or a bogus comment. Each
# turn of the attribute loop consumes at least one character, and the loop
# stops only at "/>", ">" or the end of the input; a quote left open runs to
# the end, as in HTML5. The optional value group may scan some spaces and
# then fail on a missing "=": those spaces are then taken by the separator,
# so each character is examined at most twice. A "<" followed by anything
# else is text, which re.search steps over after comparing two characters.
_MARKUP = re.compile(
    r"""
    <(?:
        (?P<slash>/?)(?P<name>[a-zA-Z][^\t\n\f\r />]*+)
        (?>(?:
            [\t\n\f\r ]++
          | /(?!>)
          | [^\t\n\f\r />][^\t\n\f\r />=]*+
            (?>[\t\n\f\r ]*+=[\t\n\f\r ]*+(?>"[^"]*+"?+|'[^']*+'?+|[^\t\n\f\r >]*+))?
        )*)
        (?P<self_closing>/?)(?P<gt>>?)
      | (?P<other>[!?/])
    )
    """,
    re.VERBOSE,
)
# A comment ends at "-->" or "--!>" (HTML5). A search tries each position
# against at most four literal characters.
_COMMENT_END = re.compile(r"--!?+>")
# Raw text elements: their content is not markup. It ends at "</name"
# followed by a space, "/" or ">" (ASCII case-insensitive, so no Unicode
# case folding can make "</ſcript>" end a script). At most len(name) + 3
# characters are compared at each start position.
RAW_TEXT = frozenset("script style title iframe".split())
_RAW_END = {name: re.compile(rf"</{name}(?=[\t\n\f\r />])", re.IGNORECASE | re.ASCII) for name in RAW_TEXT}
# Character references as html.unescape finds them, quantifiers made
# possessive: every quantifier here is followed by an optional item or ends
# the pattern, so the greedy version never gave anything back either and the
# matches are the same.
_CHARREF = re.compile(r"&(?>#[0-9]++;?+|#[xX][0-9a-fA-F]++;?+|[^\t\n\f <&#;]{1,32}+;?+)")
# Characters that show nothing: whitespace and the zero-width ones CMSes put
# in "empty" paragraphs.
_INVISIBLE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]*+")
# A code point has at most 7 decimal or 6 hex digits: a longer reference is
# out of range and html.unescape would give U+FFFD after an int() conversion
# that refuses more than 4,300 decimal digits (ValueError) and is quadratic.
_MAX_REF_DIGITS = 8


class Work:
    """Characters examined and tokens produced: a deterministic cost."""

    def __init__(self) -> None:
        self.steps = 0


class Text(NamedTuple):
    start: int
    end: int


class Tag(NamedTuple):
    name: str  # lower case
    start: int  # offset of "<"
    end: int  # offset after ">"
    closing: bool  # an end tag, "</name>"
    self_closing: bool  # "<name/>"


def _through(source: str, needle: str, start: int, work: Work) -> int:
    """Offset after the first ``needle`` from ``start``, else the end."""
    found = source.find(needle, start)
    stop = len(source) if found < 0 else found + len(needle)
    work.steps += stop - start + 1
    return stop


def _not_a_tag(source: str, lt: int, work: Work) -> int:
    """Where the comment, declaration or bogus comment opened at ``lt``
    ends, or -1 when its "<" is plain text ("</" at the very end)."""
    kind = source[lt + 1]
    if kind == "!" and source.startswith("--", lt + 2):
        for empty in ("<!-->", "<!--->"):
            if source.startswith(empty, lt):
                return lt + len(empty)
        found = _COMMENT_END.search(source, lt + 4)
        stop = len(source) if found is None else found.end()
        work.steps += stop - lt + 1
        return stop
    if kind == "/":
        if lt + 2 == len(source):
            return -1
        if source[lt + 2] == ">":  # "</>" is dropped
            return lt + 3
    # A doctype, <![CDATA[...]]>, <![if IE]>, <?php ... ?>, "</3": up to ">".
    return _through(source, ">", lt + 2, work)


def scan(source: str, work: Work) -> Iterator[Text | Tag]:
    """Text runs and tags of ``source`` in order; comments, declarations and
    the content of raw text elements produce nothing."""
    n = len(source)
    text_start = pos = 0
    while pos < n:
        markup = _MARKUP.search(source, pos)
        if markup is None:
            work.steps += n - pos + 1
            break
        lt, end = markup.span()
        work.steps += end - pos + 1
        tag = None
        slash, name, self_closing, gt = markup.group("slash", "name", "self_closing", "gt")
        if name is None:
            end = _not_a_tag(source, lt, work)
            if end < 0:
                break
        elif not gt:  # the document ends inside the tag: HTML5 drops it
            end = n
        else:
            tag = Tag(name.lower(), lt, end, slash == "/", self_closing == "/")
        if text_start < lt:
            yield Text(text_start, lt)
        if tag is not None:
            yield tag
        text_start = pos = end
        if tag is not None and tag.name in RAW_TEXT and not tag.closing and not tag.self_closing:
            close = _RAW_END[tag.name].search(source, pos)
            stop = n if close is None else close.start()
            work.steps += stop - pos + 1
            text_start = pos = stop
    if text_start < n:
        yield Text(text_start, n)


def _replace_charref(match: re.Match[str]) -> str:
    ref = match.group()
    if ref[1] == "#":
        digits = ref[3:] if ref[2:3] in ("x", "X") else ref[2:]
        if len(digits.rstrip(";").lstrip("0")) > _MAX_REF_DIGITS:
            return "\ufffd"
    return html.unescape(ref)


def decode(raw: str, work: Work) -> str:
    """``raw`` with its character references replaced, as html.unescape
    would, but linear and never raising on huge numeric references."""
    work.steps += len(raw) + 1
    return _CHARREF.sub(_replace_charref, raw) if "&" in raw else raw


def charrefs(raw: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, replacement) of each character reference ``decode``
    replaces in ``raw``, in order."""
    for ref in _CHARREF.finditer(raw):
        yield ref.start(), ref.end(), _replace_charref(ref)


def is_invisible(text: str) -> bool:
    match = _INVISIBLE.match(text)
    return match is not None and match.end() == len(text)


def first_visible(source: str, start: int, end: int, work: Work) -> int:
    """Offset of the first character of ``source[start:end]`` that shows
    something once decoded (``&nbsp;`` does not), or -1."""
    at = start
    while at < end:
        skipped = _INVISIBLE.match(source, at, end)
        assert skipped is not None  # the pattern matches the empty string
        work.steps += skipped.end() - at + 1
        at = skipped.end()
        if at >= end or source[at] != "&":
            return at if at < end else -1
        ref = _CHARREF.match(source, at, end)
        if ref is None or not is_invisible(_replace_charref(ref)):
            return at
        work.steps += ref.end() - at
        at = ref.end()
    return -1
