"""Unaligned 32-bit loads and stores at raw addresses, for the kernels.

A numba call or inlined body that receives an array updates its reference
count atomically; hot loops therefore work on addresses, and the stages
called per paragraph are compiled without the count (``no_refcount``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def _load32(typingctx, address):  # type: ignore[no-untyped-def]
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        pointer = builder.inttoptr(args[0], context.get_value_type(types.uint32).as_pointer())
        return builder.zext(builder.load(pointer, align=1), context.get_value_type(types.uint64))

    return sig, codegen


@intrinsic
def _store32(typingctx, address, value):  # type: ignore[no-untyped-def]
    sig = types.void(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        pointer = builder.inttoptr(args[0], context.get_value_type(types.uint32).as_pointer())
        builder.store(builder.trunc(args[1], context.get_value_type(types.uint32)), pointer, align=1)

    return sig, codegen


# The little-endian uint32 at any byte address, zero-extended to uint64.
load32 = cast(Callable[[np.uint64], np.uint64], _load32)
# Store the low 32 bits of a value, little-endian, at any byte address.
store32 = cast(Callable[[np.uint64, np.uint64], None], _store32)


F = TypeVar("F", bound=Callable[..., Any])


def no_refcount(function: F) -> F:
    """``njit(cache=True)`` without numba's reference counting, for a
    function called per paragraph that allocates nothing: the count of each
    array argument costs two calls at every call (numba's ``_nrt`` option,
    missing from its type stubs)."""
    options: Any = {"cache": True, "_nrt": False}
    return cast(F, njit(**options)(function))
