"""The edits an editor (or someone hiding a copy) makes to an archived paragraph.

Each edit takes the paragraph as published and returns the text that will
be posted; a ``None`` means the paragraph does not suit that edit (too few
sentences, no Latin letters to disguise) and another one is drawn.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.quality.corpus import NO_SPACE_LANGS, reference_tokens, sentences

KINDS = (
    "verbatim",
    "retyped",
    "html",
    "word_changed",
    "sentence_added",
    "sentence_removed",
    "disguised",
)
# Kinds that only make sense when the article is posted as HTML.
HTML_ONLY = frozenset({"html"})

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
CYRILLIC = {
    "a": "а",
    "e": "е",
    "o": "о",
    "p": "р",
    "c": "с",
    "x": "х",
    "y": "у",
    "i": "і",
    "s": "ѕ",
    "j": "ј",
}
CYRILLIC_UPPER = {"A": "А", "B": "В", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О", "P": "Р", "T": "Т"}
# Keyboard variants of Arabic letters (Persian layouts) and the stretching
# stroke: what a copied Arabic paragraph looks like after re-typing.
ARABIC_SWAPS = {"ي": "ی", "ك": "ک"}
TATWEEL = "\u0640"
CJK_PUNCT = {"，": ",", "。": ".", "：": ":", "；": ";", "（": "(", "）": ")", "“": '"', "”": '"'}
_WORD = re.compile(r"[^\W\d_]{3,}")
_CJK_PAIR = re.compile(r"[\u4e00-\u9fff]{2}")


@dataclass(frozen=True)
class EditContext:
    lang: str
    vocabulary: list[str]  # words (or, for no-space scripts, characters) of the corpus
    donor_sentences: list[str]  # sentences from articles that are never checked
    min_tokens: int  # length of the shortest archived paragraph that gets edited


Edit = Callable[[str, EditContext, random.Random], str | None]


def verbatim(text: str, ctx: EditContext, rng: random.Random) -> str | None:
    return text


def _retype_latin(text: str, rng: random.Random) -> str:
    text = text.replace("'", "’") if "'" in text else text.replace("’", "'")
    text = re.sub(r'"([^"]*)"', r"“\1”", text) if '"' in text else text.replace("“", '"').replace("”", '"')
    text = text.replace(" - ", " – ").replace("--", "—").replace("...", "…")
    # Any whitespace run: a copy of an already re-typed paragraph must not
    # gain a blank line (which would split it in two).
    words = text.split()
    for i in rng.sample(range(len(words)), k=min(len(words), max(1, len(words) // 6))):
        word = words[i]
        words[i] = rng.choice([word.upper(), word.lower(), word.capitalize()])
        if len(word) > 8:
            cut = rng.randrange(3, len(word) - 3)
            words[i] = words[i][:cut] + "\u00ad" + words[i][cut:]
    spaces = ["\u00a0", "  ", " ", "\u202f", " \n"]
    return "".join(w + rng.choice(spaces) for w in words[:-1]) + words[-1]


def retyped(text: str, ctx: EditContext, rng: random.Random) -> str | None:
    """Other quotes, apostrophes, dashes, spacing and case; NBSP, soft
    hyphens, a zero-width character."""
    if ctx.lang == "zh":
        out = "".join(CJK_PUNCT.get(c, c) if rng.random() < 0.7 else c for c in text)
        chars = list(out)
        for i in sorted(rng.sample(range(1, len(chars)), k=min(3, len(chars) - 1)), reverse=True):
            chars.insert(i, rng.choice([" ", "\u00a0", "\u200b"]))
        return "".join(chars)
    out = _retype_latin(text, rng)
    if ctx.lang == "ar":
        out = re.sub(
            r"(?<=[\u0628-\u064a])(?=[\u0628-\u064a])", lambda _: TATWEEL if rng.random() < 0.05 else "", out
        )
    spot = rng.randrange(1, len(out))
    return out[:spot] + rng.choice(ZERO_WIDTH) + out[spot:] if out[spot - 1].isalpha() else out


def to_html(text: str, rng: random.Random, inline: bool) -> str:
    """One paragraph as an HTML block; with ``inline``, tags and character
    references inside it as a CMS would write them."""
    body = html.escape(text, quote=False)
    if inline:
        words = body.split(" ")
        for i in rng.sample(range(len(words)), k=min(len(words), 3)):
            tag = rng.choice(["em", "strong", "b", "i", 'a href="/tag/x"', 'span class="hl"'])
            words[i] = f"<{tag}>{words[i]}</{tag.split()[0]}>"
        body = " ".join(w if rng.random() < 0.9 else w + "&nbsp;" for w in words)
        body = body.replace("’", "&rsquo;").replace("«", "&laquo;").replace("—", "&#8212;")
    wrapper = rng.choice(["p", "div", "blockquote", "li", "p class='lead'", "h3"])
    name = wrapper.split()[0]
    block = f"<{wrapper}>{body}</{name}>"
    return f"<ul>{block}</ul>" if name == "li" else block


def wrapped_html(text: str, ctx: EditContext, rng: random.Random) -> str | None:
    # Marked up when the article is rendered (see eval_quality.render_html).
    return text


def word_changed(text: str, ctx: EditContext, rng: random.Random) -> str | None:
    """One or two words replaced by other words of the corpus."""
    pattern = _CJK_PAIR if ctx.lang in NO_SPACE_LANGS else _WORD
    spots = list(pattern.finditer(text))
    if len(spots) < 4:
        return None
    chosen = sorted(rng.sample(spots, k=rng.choice([1, 2])), key=lambda m: m.start(), reverse=True)
    for m in chosen:
        if ctx.lang in NO_SPACE_LANGS:
            new = "".join(rng.choice(ctx.vocabulary) for _ in range(2))
        else:
            new = rng.choice(ctx.vocabulary)
        text = text[: m.start()] + new + text[m.end() :]
    return text


def _join(parts: list[str], lang: str) -> str:
    return "".join(parts) if lang in NO_SPACE_LANGS else " ".join(parts)


def sentence_added(text: str, ctx: EditContext, rng: random.Random) -> str | None:
    parts = sentences(text)
    parts.insert(rng.randrange(len(parts) + 1), rng.choice(ctx.donor_sentences))
    return _join(parts, ctx.lang)


def sentence_removed(text: str, ctx: EditContext, rng: random.Random) -> str | None:
    parts = sentences(text)
    if len(parts) < 2:
        return None
    del parts[rng.randrange(len(parts))]
    kept = _join(parts, ctx.lang)
    # What is left must still be a paragraph: a lone short line falls under
    # the short-paragraph policy, not under near-duplicate detection.
    return kept if len(reference_tokens(kept)) >= ctx.min_tokens // 2 else None


def _fullwidth(word: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)


def _disguise_word(word: str, rng: random.Random) -> str:
    trick = rng.random()
    if trick < 0.6:
        return "".join(CYRILLIC.get(c, CYRILLIC_UPPER.get(c, c)) if rng.random() < 0.5 else c for c in word)
    if trick < 0.85:
        cut = rng.randrange(1, len(word))
        return word[:cut] + rng.choice(ZERO_WIDTH) + word[cut:]
    return _fullwidth(word)


def disguised(text: str, ctx: EditContext, rng: random.Random) -> str | None:
    """Made to look different on purpose: Cyrillic letters inside Latin
    words, zero-width characters, fullwidth forms (Persian letter forms in
    Arabic, fullwidth digits and Latin in Chinese)."""
    if ctx.lang == "ar":
        out = "".join(ARABIC_SWAPS.get(c, c) if rng.random() < 0.5 else c for c in text)
        return re.sub(r"(?<=\w)(?=\w)", lambda _: rng.choice(ZERO_WIDTH) if rng.random() < 0.03 else "", out)
    if ctx.lang == "zh":
        out = "".join(_fullwidth(c) if c.isascii() else c for c in text)
        return re.sub(r"(?<=\w)(?=\w)", lambda _: rng.choice(ZERO_WIDTH) if rng.random() < 0.05 else "", out)
    words = text.split(" ")
    targets = [i for i, w in enumerate(words) if len(w) > 2 and w.isascii() and w.isalpha()]
    if not targets:
        return None
    for i in rng.sample(targets, k=max(1, len(targets) // 3)):
        words[i] = _disguise_word(words[i], rng)
    return " ".join(words)


EDITS: dict[str, Edit] = {
    "verbatim": verbatim,
    "retyped": retyped,
    "html": wrapped_html,
    "word_changed": word_changed,
    "sentence_added": sentence_added,
    "sentence_removed": sentence_removed,
    "disguised": disguised,
}
