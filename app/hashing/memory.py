"""Raw memory access for the kernels: unaligned 32-bit loads and stores at
addresses, and arrays passed on without reference counting.

A numba call or inlined body that receives an array updates its reference
count atomically; hot loops therefore work on addresses, and functions
called per paragraph receive borrowed views.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import numpy as np
from numba import types
from numba.extending import intrinsic

T = TypeVar("T")


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


@intrinsic
def _borrow(typingctx, array):  # type: ignore[no-untyped-def]
    if not isinstance(array, types.Array):
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        view = context.make_array(signature.return_type)(context, builder, value=args[0])
        view.meminfo = view.meminfo.type(None)  # a null pointer
        view.parent = view.parent.type(None)
        return view._getvalue()

    return array(array), codegen


# The little-endian uint32 at any byte address, zero-extended to uint64.
load32 = cast(Callable[[np.uint64], np.uint64], _load32)
# Store the low 32 bits of a value, little-endian, at any byte address.
store32 = cast(Callable[[np.uint64, np.uint64], None], _store32)
# A view of an array without its reference count, for arrays passed to a
# compiled function called per paragraph: each array argument costs two
# atomic updates of the count per call, which stall the stores in flight.
# The view must not outlive the array: borrow an argument of the calling
# function, or a variable used again later (numba frees an array after the
# last use of its variable, not at the end of the function).
borrow = cast(Callable[[T], T], _borrow)
