"""How deeply the objects of a pickle nest, read from its opcodes without building anything.

A checkpoint whose pickle nests containers hundreds of thousands deep (a tuple inside a tuple ..., used as a state
dict key) crashes the interpreter while it is unpickled: hashing or comparing such a key recurses in C until the stack
overflows (SIGSEGV), before any check of vreg's can run. :func:`pickle_depth` walks the opcodes with
:func:`pickletools.genops` (a loop, no recursion) and simulates only the depth of each stack item, so it ends in time
linear in the pickle's size, whatever the pickle holds.
"""

from __future__ import annotations

import pickletools
from typing import BinaryIO

__all__ = ["PickleTooDeep", "pickle_depth"]

#: opcodes that add to the container below their arguments (the container keeps its identity: APPEND on one list a
#: thousand times is depth 1, not 1000)
_MUTATORS = frozenset({"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"})
_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
#: a global is a name, not a container
_FLAT = frozenset({"STACK_GLOBAL", "GLOBAL"})


class PickleTooDeep(ValueError):
    """The pickle nests deeper than the limit given to :func:`pickle_depth`."""


def pickle_depth(data: bytes | BinaryIO, limit: int) -> int:
    """The deepest nesting of containers and constructed objects in the pickle ``data`` (0: scalars only).

    ``data``: the pickle's bytes, or a binary file positioned at its start (read up to its STOP opcode, so that
    several pickles in a row can be walked one after the other).

    Raises:
        PickleTooDeep: at the first object nested deeper than ``limit``.
        ValueError: ``data`` is not a well-formed pickle (truncated, an unknown opcode, a stack underflow).
    """
    try:
        return _walk(data, limit)
    except IndexError:  # an opcode without its arguments on the stack
        raise ValueError("malformed pickle (stack underflow)") from None


def _walk(data: bytes | BinaryIO, limit: int) -> int:
    stack: list[int] = []
    marks: list[int] = []
    memo: dict[object, int] = {}
    deepest = 0
    for opcode, arg, _ in pickletools.genops(data):
        name = opcode.name
        if name == "MARK":
            marks.append(len(stack))
            continue
        if name in _PUTS:
            memo[arg] = stack[-1]
            continue
        if name in _GETS:
            stack.append(memo.get(arg, 0))
            continue
        if name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
            continue
        if name == "DUP":
            stack.append(stack[-1])
            continue
        before, after = opcode.stack_before, opcode.stack_after
        items: list[int] = []
        if pickletools.markobject in before:
            start = marks.pop()
            items, stack[start:] = stack[start:], []
            fixed = before.index(pickletools.markobject)
        else:
            fixed = len(before)
        if len(stack) < fixed:
            raise IndexError(name)
        popped = stack[len(stack) - fixed :] if fixed else []
        if fixed:
            del stack[-fixed:]
        if name in _MUTATORS:
            container, others = popped[0], popped[1:] + items
            depth = max(container, max(others, default=-1) + 1)
        elif name in _FLAT:
            depth = 0
        else:
            args = popped + items
            depth = max(args) + 1 if args else (1 if name.startswith("EMPTY") else 0)
        if after:
            stack.extend([depth] * len(after))
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    raise PickleTooDeep(f"objects nested more than {limit} deep")
    return deepest
