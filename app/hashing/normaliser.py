"""Step 1 of the kernels: raw code points -> the normalised paragraph.

Writes the paragraph as UTF-8 tokens joined by single spaces and notes where
each token starts, applying NFKC where `nfkc` says it acts alike in every
context and folding each character through the tables of `charmap`; a
paragraph where NFKC would act on context is flagged for a second pass.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from app.hashing.charmap import ALONE, ASTRAL_ALONE, DELETE, MULTI, PLANE, SEPARATOR, WORD, CharTables
from app.hashing.memory import no_refcount, store32
from app.hashing.nfkc import LIMIT as NFKC_LIMIT
from app.hashing.nfkc import REPLACED, TRANSPARENT, UNSTABLE, NfkcTables

SPACE = np.uint8(0x20)
SPACE_BYTE = 0x20
# A fast-path action per BMP code point (see ``fast_actions``).
FAST = 1 << 44
FAST_BYTES = (1 << 32) - 1
FAST_LENGTH_SHIFT = 32
FAST_ALONE_SHIFT = 34
FAST_WORD_SHIFT = 35
FAST_TRAILING_SHIFT = 36
_ASTRAL_LO = ASTRAL_ALONE[0]
_ASTRAL_HI = ASTRAL_ALONE[1]


@njit(cache=True, inline="always")
def _put(out: np.ndarray, n: int, cp: int) -> int:
    """UTF-8 encode one code point at out[n]; return the new length."""
    if cp < 0x80:
        out[n] = cp
        return n + 1
    if cp < 0x800:
        out[n] = 0xC0 | (cp >> 6)
        out[n + 1] = 0x80 | (cp & 0x3F)
        return n + 2
    if cp < 0x10000:
        out[n] = 0xE0 | (cp >> 12)
        out[n + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[n + 2] = 0x80 | (cp & 0x3F)
        return n + 3
    out[n] = 0xF0 | (cp >> 18)
    out[n + 1] = 0x80 | ((cp >> 12) & 0x3F)
    out[n + 2] = 0x80 | ((cp >> 6) & 0x3F)
    out[n + 3] = 0x80 | (cp & 0x3F)
    return n + 4


@njit(cache=True, inline="always")
def _fast_action(fast: np.ndarray, c: int) -> int:
    """The fast table's entry for code point ``c``; 0: the general path."""
    return int(np.int64(fast[c])) if c < PLANE else 0


# Compiled without numba's reference counting (it allocates nothing): with
# it, each of the ten arrays passed cost two calls of the count's update at
# every paragraph, and the call took 68 ns instead of 26.
@no_refcount
def normalise_one(
    data: np.ndarray,
    start: int,
    end: int,
    tables: tuple[np.ndarray, ...],
    check: bool,
    out: np.ndarray,
    starts: np.ndarray,
) -> tuple[int, int, int]:
    """Write the normalised UTF-8 of code points ``data[start:end]`` to
    ``out[1:]`` and each token's offset in ``out`` to ``starts``, then one
    past the end plus one as a sentinel so that token t spans
    ``out[starts[t]:starts[t + 1] - 1]``. Every token, the first one too, is
    written after a space (``out[0]`` for the first): a branch less per
    character.

    With ``check``, the text is raw: characters NFKC replaces alike in every
    context are replaced here, and the text is reported as suspect where
    NFKC would also act on context (the caller then normalises it with
    ``unicodedata`` and calls again without ``check``). Without, the text
    must be in NFKC form already.

    Returns (length in bytes from ``out[1]``, number of tokens, suspect).
    """
    kind, mapped, extra, nf_flags, nf_mapped, nf_extra, fast = tables
    address = np.uint64(out.ctypes.data)
    n = 0
    ntok = 0
    gap = 1  # the next token byte starts a new token
    trailing = 0  # combining class that ends the last character
    suspect = 0
    # Every character leaves a space after its bytes, for a token after it.
    out[0] = SPACE
    i = start
    while i < end:
        # Indices cast to unsigned: numba then skips the test for negative
        # (wrap-around) indices, a quarter of the instructions of this loop.
        c = data[np.uint64(i)]
        action = _fast_action(fast, c)
        if action != 0:
            # A run of characters that the fast table alone decides (nearly
            # all), in a loop of its own: with only the values it needs live,
            # they stay in registers (in the outer loop, the token count went
            # through the stack at every character). Branch-free: whether a
            # character ends, starts or continues a token is data-dependent,
            # and mispredicted branches cost more than the stores below,
            # some of which are undone.
            while True:
                word = (action >> FAST_WORD_SHIFT) & 1
                alone = (action >> FAST_ALONE_SHIFT) & 1
                new = word & (gap | alone)
                # A new token keeps the space stored after the character
                # before; the character's UTF-8 and a space after it go out
                # in one 4-byte store.
                n += new
                starts[np.uint64(ntok)] = n
                ntok += new
                store32(address + np.uint64(n), np.uint64(action & FAST_BYTES))
                n += (action >> FAST_LENGTH_SHIFT) & 3
                gap = alone | (1 - word)
                trailing = (action >> FAST_TRAILING_SHIFT) & 0xFF
                i += 1
                if i == end:
                    break
                c = data[np.uint64(i)]
                action = _fast_action(fast, c)
                if action == 0:
                    break
            continue
        i += 1
        cp = int(c)
        count = 1
        at = -1
        if check:
            flags = int(nf_flags[c]) if c < NFKC_LIMIT else 0
            if flags == REPLACED:
                at = nf_mapped[c]
                count = nf_extra[at]
                trailing = nf_extra[at + 1]
            elif flags == UNSTABLE:
                suspect = 1
            elif flags != TRANSPARENT:
                leading = flags & 0xFF
                suspect |= int(0 < leading < trailing)
                trailing = flags >> 8
        # One code point, or the several of its NFKC replacement.
        for q in range(count):
            if at >= 0:
                cp = int(nf_extra[at + 2 + q])
            if cp < PLANE:
                k = kind[cp]
            elif _ASTRAL_LO <= cp <= _ASTRAL_HI:
                k = ALONE
            else:
                k = WORD
            if k == SEPARATOR:
                gap = 1
            elif k != DELETE:
                if gap == 1 or k == ALONE:
                    out[n] = SPACE
                    n += 1
                    starts[ntok] = n
                    ntok += 1
                gap = int(k == ALONE)
                if k == MULTI:
                    mat = mapped[cp]
                    for j in range(extra[mat]):
                        n = _put(out, n, int(extra[mat + 1 + j]))
                else:
                    n = _put(out, n, int(mapped[cp]) if cp < PLANE and k == WORD else cp)
        out[n] = SPACE
    starts[ntok] = n + 1
    return n - int(ntok > 0), ntok, suspect


def fast_actions(chars: CharTables, nfkc: NfkcTables) -> npt.NDArray[np.uint64]:
    """What the kernel does with each BMP character that needs no table but
    this one: 0 where it must take the general path; else FAST, plus the
    four bytes it stores (FAST_BYTES) and, for a letter, digit or
    ideograph: 1 from FAST_WORD_SHIFT, the number of bytes it writes from
    FAST_LENGTH_SHIFT, 1 from FAST_ALONE_SHIFT for a character that is a
    token by itself, and the combining class that ends it (for the order
    check of marks after it) from FAST_TRAILING_SHIFT. The bytes stored are
    the character's UTF-8 (up to three bytes, little-endian) and a space
    after it, which the next character keeps if it starts a token; a
    separator stores the space alone. Only characters that start with
    combining class 0 and that NFKC keeps qualify, so no check is needed
    before writing them."""
    flags = nfkc.flags[:PLANE].astype(np.int64)
    plain = (flags < TRANSPARENT) & (flags & 0xFF == 0)
    kind = chars.kind
    code = np.where(kind == WORD, chars.mapped, np.arange(PLANE)).astype(np.int64)
    writes = plain & ((kind == WORD) | (kind == ALONE)) & (code < PLANE) & ((code < 0xD800) | (code > 0xDFFF))
    # UTF-8 of code points below 0x10000, as little-endian integers.
    one, two = code < 0x80, code < 0x800
    utf8 = np.where(
        one,
        code,
        np.where(
            two,
            (0xC0 | code >> 6) | (0x80 | code & 0x3F) << 8,
            (0xE0 | code >> 12) | (0x80 | code >> 6 & 0x3F) << 8 | (0x80 | code & 0x3F) << 16,
        ),
    )
    length = np.where(one, 1, np.where(two, 2, 3))
    packed = (
        FAST
        | utf8
        | SPACE_BYTE << 8 * length
        | length << FAST_LENGTH_SHIFT
        | (kind == ALONE).astype(np.int64) << FAST_ALONE_SHIFT
        | 1 << FAST_WORD_SHIFT
        | (flags >> 8) << FAST_TRAILING_SHIFT
    )
    actions = np.zeros(PLANE, dtype=np.uint64)
    actions[plain & (kind == SEPARATOR)] = FAST | SPACE_BYTE
    actions[writes] = packed[writes].astype(np.uint64)
    _add_replaced(actions, chars, nfkc)
    actions.setflags(write=False)
    return actions


def _add_replaced(actions: npt.NDArray[np.uint64], chars: CharTables, nfkc: NfkcTables) -> None:
    """Give characters that NFKC replaces alike in every context the action
    of their replacement where the fast table decides it: one character
    (full-width letters and digits) or separators only (full-width commas
    and brackets, three dots for an ellipsis): a Chinese paragraph has three
    or four such characters, each a detour through the general path."""
    for cp in np.flatnonzero(nfkc.flags[:PLANE] == REPLACED).tolist():
        form = nfkc.replacement(cp)
        if all(c < PLANE and chars.kind[c] == SEPARATOR and actions[c] for c in form):
            actions[cp] = FAST | SPACE_BYTE
        elif len(form) == 1 and form[0] < PLANE and actions[form[0]]:
            actions[cp] = actions[form[0]]
