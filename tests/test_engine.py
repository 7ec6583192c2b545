"""Engine semantics: constructs, guards and retracing, symbolic shapes, caching, errors."""

import functools
import sys

import numpy as np
import pytest

import skautodiff
from helpers import check, finite_difference

rng = np.random.default_rng(42)
W = rng.normal(size=(4, 3))
X = rng.normal(size=(6, 4))
v = rng.normal(size=4)


# ---------------------------------------------------------------- constructs (value + gradient)
def helper_square(a, power=2, *, scale=1.0):
    return scale * a**power


class Layer:
    def __init__(self, weight):
        self.weight = weight

    def __call__(self, x):
        return np.tanh(x @ self.weight)


def constructs_closures(w):
    total = 0.0

    def add(t):
        nonlocal total
        total = total + t

    scale = lambda t: 2.0 * t
    for i in range(3):
        add(scale(w[i]))
    return total + np.sum(w)


def constructs_comprehensions(w):
    squares = [x**2 for x in w]
    named = {f"k{i}": x for i, x in enumerate(w)}
    unique = {len(squares)}
    gen = sum(x * 3.0 for x in w)
    return sum(squares) + named["k1"] * gen + len(unique)


def constructs_loops(w):
    out = 0.0
    for a, b in zip(w, w[::-1]):
        out += a * b
    for row in W.T:  # an array's first axis
        out += np.sum(row * w[:4])
    i = 0
    while i < 2:
        out = out + w[i]
        i += 1
    for key, value in {"a": w[0], "b": w[1]}.items():
        out = out + (value if key == "a" else -value)
    return out


def constructs_control(w):
    s = np.sum(w)
    if s > 0:
        out = s**2
    elif s > -1:
        out = -s
    else:
        out = s**3
    out = out if w[0] > w[1] else out * 2
    assert np.all(np.isfinite(w)), "finite"
    try:
        raise ValueError("caught")
    except ValueError as exc:
        out = out + len(str(exc))
    finally:
        out = out + 1.0
    with np.errstate(divide="ignore"):
        out = out + np.sum(np.log(np.exp(w)))
    tmp = out * 1.0
    del tmp
    return out


def constructs_calls(w):
    layer = Layer(W)
    h = layer(w)
    args = (h,)
    kwargs = {"power": 3}
    return np.sum(helper_square(*args, **kwargs)) + np.sum(helper_square(w, scale=0.5))


def constructs_inplace(w):
    z = np.zeros(4)
    z[1:3] = w[1:3] ** 2
    z[0] += w[0]
    h = w * 2.0
    h += 1.0
    h[h > 2.0] = 0.0
    unpacked, *rest = w
    return np.sum(z) + np.sum(h) + unpacked * len(rest)


def constructs_subscripts(w):
    m = np.outer(w, w)
    return (
        m[0, 1]
        + np.sum(m[1:, ::2])
        + np.sum(m[..., 0])
        + np.sum(m[None, 0])
        + np.sum(m[[0, 2], [1, 3]])
        + np.sum(m[m > 0])
        + np.sum(m[(1, 2), :])
    )


@pytest.mark.parametrize(
    "fn",
    [
        constructs_closures,
        constructs_comprehensions,
        constructs_loops,
        constructs_control,
        constructs_calls,
        constructs_inplace,
        constructs_subscripts,
    ],
)
def test_constructs(fn):
    check(fn, v.copy())


def scaled_by(fn):
    """A decorator whose wrapper has parameters of its own (functools.wraps copies fn's name and
    sets __wrapped__, which inspect.signature follows unless told not to)."""

    @functools.wraps(fn)
    def wrapper(x, s=2.0):
        return s * fn(x)

    return wrapper


def passed_through(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


@scaled_by
def cubes(x, p=3.0, q=1.0):
    return np.sum(np.abs(x) ** p) * q


@passed_through
def penalty(w, alpha=0.1):
    return alpha * np.sum(w**2)


def with_decorated_helpers(w):
    return cubes(w) + penalty(w, alpha=2.0) + penalty(w)


@passed_through
def decorated_loss(w, x):
    return np.sum((w * x) ** 2)


def test_decorated_functions_bind_their_own_parameters():
    """The engine runs the wrapper's code, so it binds the wrapper's parameters, not those of
    the function it wraps (which gave "missing a required argument" or unbound locals)."""
    w = np.array([0.5, -1.0, 2.0])
    assert check(with_decorated_helpers, w) == pytest.approx(
        2.0 * np.sum(np.abs(w) ** 3) + 2.1 * np.sum(w**2)
    )
    grad = skautodiff.Gradient(decorated_loss, wrt=0)(w, np.arange(3.0))  # wrt=0: the *args
    np.testing.assert_allclose(grad[0], 2 * w * np.arange(3.0) ** 2)


def residuals_or_penalty(w, X, y):
    try:
        return np.sum((X @ w - y) ** 2)
    except ValueError:  # rows that do not match: natively numpy's broadcasting error
        return np.sum(w**2)


def test_an_error_the_users_except_catches_natively_is_caught_on_later_calls_too():
    """Traced without an error, then called where the native call raises inside the try block:
    the compiled call (its shape check) raised to the caller instead of taking the branch."""
    w = np.array([0.5, -1.0])
    X, y = np.ones((3, 2)), np.arange(3.0)
    for rows in (3, 4, 3):
        args = (w, X, y[:rows] if rows <= 3 else np.arange(4.0))
        assert check(residuals_or_penalty, *args) == pytest.approx(residuals_or_penalty(*args))


# ---------------------------------------------------------------- guards and retracing
def branchy(w, x):
    if np.sum(w) > 0:  # depends on a differentiable value: checked after each call
        return np.sum(w * x)
    return np.sum(w**2)


def test_value_guard_retraces_and_stays_correct():
    x = np.arange(3.0)
    g = skautodiff.Gradient(branchy, wrt="w")
    before = skautodiff.cache_info().traces
    np.testing.assert_allclose(g(np.ones(3), x), x)
    np.testing.assert_allclose(g(-np.ones(3), x), -2 * np.ones(3))
    np.testing.assert_allclose(g(np.ones(3) * 2, x), x)  # first trace again: no new trace
    assert skautodiff.cache_info().traces - before == 2


def by_rows(X):
    if X.shape[0] > 3:
        return np.sum(X**2)
    return np.sum(X)


def test_shape_guard():
    f = skautodiff.Function(by_rows)
    for n in (2, 5, 3, 6):
        A = np.ones((n, 2))
        assert f(A) == by_rows(A)


def mean_by_rows(w, X):
    r = X @ w
    return np.sum(r**2) / X.shape[0]


def test_symbolic_shapes_one_compile_for_any_row_count():
    f = skautodiff.Function(mean_by_rows)
    f(np.ones(2), np.ones((5, 2)))
    before = skautodiff.cache_info()
    for n in (3, 7, 100):
        A = rng.normal(size=(n, 2))
        assert f(np.ones(2), A) == pytest.approx(mean_by_rows(np.ones(2), A), rel=1e-12)
    after = skautodiff.cache_info()
    assert (after.traces, after.compiles) == (before.traces, before.compiles)


def test_repeated_call_compiles_nothing():
    g = skautodiff.Gradient(mean_by_rows, wrt="w")
    g(np.ones(2), np.ones((4, 2)))
    before = skautodiff.cache_info()
    g(np.zeros(2), np.ones((9, 2)))
    assert skautodiff.cache_info().compiles == before.compiles


SCALE = 2.0


def uses_global(w):
    return SCALE * np.sum(w)


def test_rebinding_a_global_retraces():
    global SCALE
    f = skautodiff.Function(uses_global)
    assert f(np.ones(3)) == 6.0
    SCALE = 5.0
    try:
        assert f(np.ones(3)) == 15.0
    finally:
        SCALE = 2.0


def test_equal_code_with_other_globals_is_not_confused():
    source = "def f(w):\n    return C * np.sum(w)\n"
    first, second = {"np": np, "C": 2.0}, {"np": np, "C": 5.0}
    exec(source, first)
    exec(source, second)  # equal code objects, different globals
    assert skautodiff.Function(first["f"])(np.ones(2)) == 4.0
    assert skautodiff.Function(second["f"])(np.ones(2)) == 10.0


def test_closure_values_are_guarded():
    def make(c):
        return lambda w: c * np.sum(w)

    assert skautodiff.Function(make(2.0))(np.ones(2)) == 4.0
    assert skautodiff.Function(make(3.0))(np.ones(2)) == 6.0


def test_loop_count_from_an_integer_argument_is_guarded():
    def power_sum(w, n):
        out = 0.0
        for k in range(n):
            out = out + np.sum(w**k)
        return out

    f = skautodiff.Function(power_sum)
    w = np.array([0.5, 2.0])
    assert f(w, 2) == pytest.approx(power_sum(w, 2))
    assert f(w, 4) == pytest.approx(power_sum(w, 4))


def test_hyperparameter_attributes_are_inputs():
    class Model:
        def __init__(self, alpha, degree):
            self.alpha, self.degree = alpha, degree

        def loss(self, w):
            return self.alpha * np.sum(w**self.degree)

    w = np.array([0.5, 2.0])
    before = skautodiff.cache_info()
    for alpha in (0.1, 1.0, 10.0):
        m = Model(alpha, 2)
        assert skautodiff.Function(m.loss)(w) == pytest.approx(m.loss(w))
    assert skautodiff.cache_info().traces - before.traces == 1
    m = Model(1.0, 4)
    assert skautodiff.Function(m.loss)(w) == pytest.approx(m.loss(w))


# ---------------------------------------------------------------- data types and mutation
def test_float32_stays_float32():
    f = skautodiff.Function(lambda x: np.sum(x * 0.5))
    out = f(np.ones(3, dtype=np.float32))
    assert out.dtype == np.float32
    g = skautodiff.Gradient(lambda x: np.sum(x * x), wrt=0)(np.ones(3, dtype=np.float32))
    assert g.dtype == np.float32


def test_inputs_never_mutated():
    def writes(w):
        w[0] = 100.0
        w += 1.0
        return np.sum(w)

    w = np.ones(3)
    native_result = writes(w.copy())
    assert skautodiff.Function(writes)(w) == native_result
    np.testing.assert_array_equal(w, np.ones(3))
    np.testing.assert_allclose(skautodiff.Gradient(writes, wrt=0)(w), [0.0, 1.0, 1.0])


def views_updated_in_place(W, b, X):
    h = X @ W
    h[:, :2] += b  # augmented assignment to a slice
    row = h[0]
    row *= 2.0  # a view made by indexing: updating it updates h, as in numpy
    X2 = X.copy()
    X2[:, 0] -= 1.0  # an input's copy
    return np.sum(np.tanh(h)) + np.sum(X2 @ W)


def test_inplace_updates_through_views_made_by_indexing():
    rng = np.random.default_rng(5)
    W, b, X = rng.normal(size=(3, 4)), rng.normal(size=2), rng.normal(size=(5, 3))
    check(views_updated_in_place, W, b, X, wrt=0)
    check(views_updated_in_place, W, b, X, wrt=1)


def test_inplace_update_through_a_reshape_view_is_refused():
    def reshaped(w):
        z = np.zeros(4)
        z.reshape(2, 2)[0] += w[:2]  # numpy would change z; the engine refuses rather than diverge
        return np.sum(z) + np.sum(w)

    with pytest.raises(skautodiff.TraceError, match="view of another array"):
        skautodiff.Function(reshaped)(np.ones(4))


def test_inplace_update_of_a_data_argument_through_an_alias():
    def shifted(w, X):
        Z = X
        Z += 1.0  # natively this also changes X (and the caller's array)
        return np.sum(X @ w)

    w, X = np.array([1.0, 2.0]), np.ones((3, 2))
    expected = shifted(w, X.copy())
    assert skautodiff.Function(shifted)(w, X) == expected
    np.testing.assert_allclose(skautodiff.Gradient(shifted, wrt="w")(w, X), [6.0, 6.0])
    np.testing.assert_array_equal(X, np.ones((3, 2)))


def test_nested_pytrees():
    def loss(layers, x):
        for weight, bias in layers:
            x = np.tanh(weight @ x + bias)
        return np.sum(x**2)

    layers = [(rng.normal(size=(3, 4)), rng.normal(size=3)), (rng.normal(size=(2, 3)), np.zeros(2))]
    grads = skautodiff.Gradient(loss, wrt="layers")(layers, v)
    assert isinstance(grads, list) and isinstance(grads[0], tuple)
    w0 = layers[0][0]
    fd = finite_difference(lambda w: loss([(w, layers[0][1]), layers[1]], v), [w0], 0)
    np.testing.assert_allclose(grads[0][0], fd, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------- errors
def uses_unknown(w):
    return np.sum(np.frexp(w)[0])


def test_unsupported_function_error_names_file_line_source():
    with pytest.raises(skautodiff.TraceError) as info:
        skautodiff.Function(uses_unknown)(np.ones(2))
    err = info.value
    assert err.filename == __file__
    assert err.source == "return np.sum(np.frexp(w)[0])"
    assert "numpy.frexp has no symbolic rule" in str(err) and f"line {err.lineno}" in str(err)
    assert f"Python {sys.version_info.major}.{sys.version_info.minor}" in str(err)


def test_unsupported_function_error_suggests_close_names():
    def typo_like(w):
        return np.sum(np.nancumsum(w))  # not in the tables; cumsum and nansum are

    with pytest.raises(skautodiff.TraceError, match="similar names: .*cumsum"):
        skautodiff.Function(typo_like)(np.ones(2))


def test_similar_name_hints_stay_in_the_module_of_the_function():
    import scipy.spatial.distance as distance

    def uses_directed_hausdorff(
        w,
    ):  # scipy.spatial.distance: no rule; math.dist must not be offered
        return np.sum(distance.directed_hausdorff(w[:, None], w[:, None])[0])

    with pytest.raises(skautodiff.TraceError) as info:
        skautodiff.Function(uses_directed_hausdorff)(np.ones(2))
    assert "dist" not in str(info.value).split("hint:")[1].split(";")[0].replace(
        "directed_hausdorff", ""
    )


def test_a_function_without_a_rule_is_refused_with_a_known_alternative():
    def uses_partition(w):
        return np.sum(np.partition(w, 1)[:1])

    with pytest.raises(skautodiff.TraceError) as info:
        skautodiff.Function(uses_partition)(np.ones(3))
    hint = str(info.value).split("hint:")[1]
    assert "np.sort" in hint and "similar names" not in hint


def test_vectorize_is_named_as_the_user_wrote_it():
    def relu(t):
        return t if t > 0 else 0.0

    def uses_vectorize(w):
        return np.sum(np.vectorize(relu)(w))

    with pytest.raises(skautodiff.TraceError, match=r"np.vectorize\(.*relu\)") as info:
        skautodiff.Function(uses_vectorize)(np.ones(2))
    assert "<lambda>" not in str(info.value) and "np.where" in str(info.value)


def test_randomness_is_refused():
    def noisy(w):
        return np.sum(w + np.random.normal(size=w.shape))

    with pytest.raises(skautodiff.TraceError, match="pass it in as an argument"):
        skautodiff.Function(noisy)(np.ones(2))


def test_engine_errors_are_not_caught_by_user_except():
    def swallow(w):
        try:
            return np.sum(np.frexp(w)[0])
        except Exception:
            return 0.0

    with pytest.raises(skautodiff.TraceError):
        skautodiff.Function(swallow)(np.ones(2))


def test_error_chain_names_interpreted_calls():
    def inner(w):
        return np.frexp(w)[0]

    def outer(w):
        return np.sum(inner(w))

    with pytest.raises(skautodiff.TraceError) as info:
        skautodiff.Function(outer)(np.ones(2))
    text = str(info.value)
    assert "outer" in text and "inner" in text and "return np.frexp(w)[0]" in text


def test_user_exceptions_propagate_unchanged():
    def fails(w):
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        skautodiff.Function(fails)(np.ones(2))


def test_non_scalar_loss_gradient_error():
    with pytest.raises(ValueError, match="must return a scalar"):
        skautodiff.Gradient(lambda w: w * 2, wrt=0)(np.ones(2))


def test_partial_is_interpreted():
    def scaled(w, c):
        return c * np.sum(w)

    f = functools.partial(scaled, c=3.0)
    assert skautodiff.Function(lambda w: f(w))(np.ones(2)) == 6.0
