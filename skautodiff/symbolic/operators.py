"""Python operators on traced values, with numpy's meaning.

Rules receive the two operands (either may be an untraced Python number or numpy array) and return
the PyTensor variable of the result. PyTensor's own operator overloads are avoided where their
meaning differs from numpy's: `==` on variables is identity in PyTensor, `@` must follow numpy's
1-D/2-D/N-D rules, and there is no `<<`/`>>`.
"""

import operator

import pytensor.tensor as pt


def matmul(a, b):
    """numpy's `@`: 1-D operands are vectors, N-D operands are stacks of matrices (batch broadcast)."""
    a, b = pt.as_tensor_variable(a), pt.as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        # numpy refuses scalars in matmul; the engine ran numpy first, so this is unreachable in a
        # trace, but a clear message is better than PyTensor's shape error.
        raise NotImplementedError("matmul with a 0-d operand is not defined (numpy raises too)")
    if a.ndim <= 2 and b.ndim <= 2:
        # pt.dot lowers to BLAS gemm/gemv directly; matmul goes through a Blockwise
        return pt.dot(a, b)
    return pt.matmul(a, b)


def _power_of_two(a, b):
    dtype = pt.as_tensor_variable(a).dtype
    return pt.cast(pt.power(pt.constant(2, dtype=dtype), b), dtype)


def left_shift(a, b):
    # PyTensor has no shift operator; for integers x << n == x * 2**n (numpy wraps on overflow alike)
    return pt.mul(a, _power_of_two(a, b))


def right_shift(a, b):
    # numpy's >> on signed integers is an arithmetic shift, i.e. floor division by 2**n
    return pt.floor_div(a, _power_of_two(a, b))


def positive(a):
    return pt.as_tensor_variable(a)


BINARY = {
    "+": pt.add,
    "-": pt.sub,
    "*": pt.mul,
    "/": pt.true_div,
    "//": pt.floor_div,
    "%": pt.mod,
    "**": pt.power,
    "@": matmul,
    "&": pt.and_,
    "|": pt.or_,
    "^": pt.xor,
    "<<": left_shift,
    ">>": right_shift,
}

UNARY = {
    "-": pt.neg,
    "+": positive,
    "~": pt.invert,
}


def _reflexive(compare, nan_result):
    """A comparison that stays right for `x OP x` on floats.

    PyTensor rewrites eq(x, x), le(x, x), ge(x, x) to True and neq(x, x) to False (pytensor 3.0.7
    and 3.3.8, every mode), which breaks numpy's NaN idiom `x != x`. When both operands are the same
    float variable the answer is decided by isnan instead.
    """

    def rule(a, b):
        if a is b and isinstance(a, pt.TensorVariable) and a.dtype.startswith(("float", "complex")):
            return pt.isnan(a) if nan_result else pt.invert(pt.isnan(a))
        return compare(a, b)

    rule.__name__ = compare.__name__ if hasattr(compare, "__name__") else "compare"
    return rule


equal = _reflexive(pt.eq, nan_result=False)
not_equal = _reflexive(pt.neq, nan_result=True)
less_equal = _reflexive(pt.le, nan_result=False)
greater_equal = _reflexive(pt.ge, nan_result=False)

COMPARE = {
    "<": pt.lt,
    "<=": less_equal,
    ">": pt.gt,
    ">=": greater_equal,
    # never `a == b` on variables: PyTensor defines it as identity, not elementwise equality
    "==": equal,
    "!=": not_equal,
}


# The operator module's functions called directly (operator.add(a, b), functools.reduce(operator.mul,
# xs)) mean exactly the expression they name, so the engine evaluates that expression: kind
# ("binary", "unary", "compare", "getitem") and symbol. In-place forms (iadd) update an array as
# `a += b` does.
OPERATOR_FUNCTIONS = {
    **{
        getattr(operator, name): ("binary", symbol)
        for name, symbol in (
            ("add", "+"),
            ("sub", "-"),
            ("mul", "*"),
            ("truediv", "/"),
            ("floordiv", "//"),
            ("mod", "%"),
            ("pow", "**"),
            ("matmul", "@"),
            ("and_", "&"),
            ("or_", "|"),
            ("xor", "^"),
            ("lshift", "<<"),
            ("rshift", ">>"),
            ("iadd", "+="),
            ("isub", "-="),
            ("imul", "*="),
            ("itruediv", "/="),
            ("ifloordiv", "//="),
            ("imod", "%="),
            ("ipow", "**="),
            ("imatmul", "@="),
            ("iand", "&="),
            ("ior", "|="),
            ("ixor", "^="),
            ("ilshift", "<<="),
            ("irshift", ">>="),
        )
    },
    **{
        getattr(operator, name): ("unary", symbol)
        for name, symbol in (("neg", "-"), ("pos", "+"), ("invert", "~"), ("inv", "~"))
    },
    **{
        getattr(operator, name): ("compare", symbol)
        for name, symbol in (
            ("lt", "<"),
            ("le", "<="),
            ("gt", ">"),
            ("ge", ">="),
            ("eq", "=="),
            ("ne", "!="),
        )
    },
    operator.getitem: ("getitem", "[]"),
    operator.abs: ("builtin", "abs"),
}
