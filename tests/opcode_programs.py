"""Programs that together execute every opcode handler, written the way people write code.

They live outside the test modules because pytest rewrites `assert` statements in test modules
(the engine must meet plain `assert`, i.e. LOAD_ASSERTION_ERROR).
"""

import numpy as np


class Box:
    pass


class Suppress:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is KeyError


def f_calls(w, *, scale=2.0):
    def inner(a, b=1.0, *rest, c: float = 3.0, **named):
        return a * b + c + sum(rest) + sum(named.values())

    parts = [w[0], w[1]]
    extra = {"d": w[2]}
    more = {"e": 1.0}
    out = inner(*parts, *[w[3]], **extra, **more) + inner(w[0], c=scale)
    return out + max(w[0], w[1]) + abs(-w[2]) + np.sum(+w) + (-w[0])


def f_containers(w):
    a, *mid, b = [w[0], w[1], w[2], w[3]]
    s = {1, 2} | {*range(3)}
    d = {**{"x": w[0]}, **{"y": w[1]}}
    d2 = {k: 1 for k in "ab"}
    s2 = {i for i in range(2)}
    t = (*mid, b)
    lst = [0.0] * 4
    lst[1:3] = [w[0], w[1]]
    del lst[0]
    sl = w[1:3]
    return a + b + len(s) + d["x"] * d["y"] + len(d2) + len(s2) + t[0] + lst[0] + np.sum(sl)


def f_strings(w):
    text = f"{np.sum(w):.3f}|{w[0]!r}|{len(w):>4}|{'x'!s}"
    return np.sum(w) * len(text)


def f_control(w):
    x = None
    if x is None:
        x = w[0]
    flag = not (w[1] > 0)
    y = w[0] > 0 or w[1] > 0
    z = w[0] > 0 and w[1] > 0
    mask = ~(w > 0)
    total = x + float(flag) + float(y) + float(z) + np.sum(np.where(mask, w, 0.0))
    if "a" in {"a": 1} and 3 not in [1, 2]:
        total = total * 2.0
    return total


def f_exceptions(w):
    total = 0.0
    try:
        assert w.shape[0] == 99, "not 99"
    except AssertionError:
        total += 1.0
    try:
        try:
            raise ValueError("inner")
        except ValueError as exc:
            raise KeyError("outer") from exc
    except KeyError:
        total += 2.0
    try:
        try:
            raise IndexError("x")
        except IndexError:
            raise
    except IndexError:
        total += 3.0
    finally:
        total += 0.5
    with Suppress():
        raise KeyError("suppressed")
    with np.errstate(all="ignore"):
        total = total + np.sum(w)
    return total


def f_objects(w):
    box = Box()
    box.value = w * 2.0
    out = np.sum(box.value)
    del box.value
    n = 0
    for k in range(3):
        n += k
    else:
        n += 1
    del n
    return out


def f_generators(w):
    gen = (x * 2.0 for x in w)
    total = sum(gen)
    squares = list(x**2 for x in w if x > -10)
    return total + sum(squares)


def f_nonlocal_delete(w):
    import math
    from numpy import linalg

    acc = w[0] * math.pi / linalg.norm(np.ones(4))

    def bump():
        nonlocal acc
        acc = acc + 1.0

    bump()
    result = acc
    del acc
    return result


def f_long(w):
    # A long body makes jump offsets exceed one byte: EXTENDED_ARG.
    out = w[0]
    if w[1] > -100:
        # fmt: off
        out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0
        out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0
        out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0
        out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0
        out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0
        out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0
        out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0
        out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0
        out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0
        out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0
        out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0
        out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0; out = out + 1.0
        # fmt: on
    return out


def f_assignments(w, maybe=None):
    a, b = w[0], w[1]
    a, b = b, a
    pair = (a, b)
    first, second = pair
    if maybe is not None:
        first = first + maybe
    if w[0] > -100:
        late = w[2]
    out = [0.0, 0.0]
    out[0] = late
    out[1] += 1.0
    a, b, c = w[2], w[1], w[0]
    if -100 < c < 100:
        out[1] += a - b
    return first * 2.0 + second + out[0] + np.sum(w[::-1] * w)


class Base:
    def energy(self, w):
        return np.sum(w**2)


class Child(Base):
    def energy(self, w):
        return super().energy(w) + 1.0


def f_super(w):
    return Child().energy(w)


FUNCTIONS = [
    f_calls,
    f_containers,
    f_strings,
    f_control,
    f_exceptions,
    f_objects,
    f_generators,
    f_nonlocal_delete,
    f_long,
    f_super,
    f_assignments,
]
