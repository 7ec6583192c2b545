"""Every Python construct the engine must run (issue 2), each inside a small realistic loss.

Closures, nonlocal, lambdas, inner functions, comprehensions, generator expressions, every kind of
for loop, while, if/elif/else, conditional expressions, try/except/finally, with, assert,
f-strings, del, *args/**kwargs/keyword-only/defaults, helper functions and bound methods,
augmented assignment, in-place updates of arrays created inside the function, and subscripts of
every kind.
"""

import math
import warnings

import numpy as np
from scipy.special import expit, logsumexp

from .harness import Call, case

N, D = 6, 3


def _wXy(rng):
    return rng.normal(size=D), rng.normal(size=(N, D)), rng.normal(size=N)


# ----------------------------------------------------------------------------- closures and functions


def make_scaled_loss(scale, offset):
    def loss(w, X, y):
        return scale * np.mean((X @ w - y - offset) ** 2)

    return loss


closure_over_constants = case(lambda r: _wXy(r), wrt="w", name="closure_over_constants")(
    make_scaled_loss(2.5, 0.1)
)


@case(lambda r: _wXy(r), wrt="w")
def inner_function_closes_over_traced(w, X, y):
    z = X @ w

    def residual(target):
        return z - target

    return np.sum(residual(y) ** 2)


@case(lambda r: _wXy(r), wrt="w")
def nonlocal_accumulator(w, X, y):
    total = 0.0
    count = 0

    def add(term):
        nonlocal total, count
        total = total + term
        count += 1

    for i in range(len(y)):
        add((X[i] @ w - y[i]) ** 2)
    return total / count


@case(lambda r: _wXy(r), wrt="w")
def lambda_inside_loss(w, X, y):
    act = lambda z: np.tanh(z)
    sq = lambda a, b=0.0: (a - b) ** 2
    return np.mean(sq(act(X @ w), y))


module_level_lambda = case(lambda r: _wXy(r), wrt="w", name="module_level_lambda")(
    lambda w, X, y: np.mean(np.logaddexp(0.0, -y * (X @ w)))
)


@case(lambda r: _wXy(r), wrt="w")
def closure_capturing_loop_variable_via_default(w, X, y):
    fns = [lambda z, k=k: z**k for k in (1, 2, 3)]
    z = np.tanh(X @ w)
    return sum(np.mean(f(z) - y) ** 2 for f in fns)


@case(lambda r: _wXy(r), wrt="w")
def nested_closure_two_levels(w, X, y):
    def outer(scale):
        def inner(v):
            return scale * np.sum(v**2)

        return inner

    penalty = outer(0.1)
    return np.mean((X @ w - y) ** 2) + penalty(w)


def polynomial_horner(coeffs, x):
    if len(coeffs) == 1:
        return coeffs[0] + 0 * x
    return coeffs[0] + x * polynomial_horner(coeffs[1:], x)


@case(lambda r: (r.normal(size=4) * 0.5, r.normal(size=N), r.normal(size=N)), wrt="c")
def recursive_helper(c, x, y):
    return np.sum((polynomial_horner(c, x) - y) ** 2)


# ----------------------------------------------------------------------------- comprehensions and generators


@case(
    lambda r: ([r.normal(size=D) for _ in range(3)], r.normal(size=(N, D)), r.integers(0, 3, N)),
    wrt="ws",
)
def list_comprehension_of_scores(ws, X, labels):
    scores = np.stack([X @ w for w in ws], axis=1)
    return np.mean(logsumexp(scores, axis=1) - scores[np.arange(len(labels)), labels])


@case(
    lambda r: ({"a": r.normal(size=D), "b": r.normal(size=D)}, r.normal(size=(N, D))), wrt="params"
)
def dict_comprehension(params, X):
    proj = {k: X @ v for k, v in params.items()}
    norms = {k: np.sum(v**2) for k, v in proj.items() if k != "unused"}
    return norms["a"] * 0.5 + norms["b"] * 0.25


@case(lambda r: _wXy(r), wrt="w")
def set_comprehension_of_shapes(w, X, y):
    folds = {i % 3 for i in range(X.shape[0])}
    loss = 0.0
    for f in sorted(folds):
        idx = np.arange(X.shape[0]) % 3 == f
        loss = loss + np.mean((X[idx] @ w - y[idx]) ** 2)
    return loss / len(folds)


@case(lambda r: _wXy(r), wrt="w")
def generator_expression_sum(w, X, y):
    return sum((xi @ w - yi) ** 2 for xi, yi in zip(X, y)) / len(y)


@case(lambda r: ([r.normal(size=(D, D)) * 0.5 for _ in range(3)], r.normal(size=(N, D))), wrt="Ws")
def nested_comprehension_with_condition(Ws, X):
    pairs = [(i, j) for i in range(len(Ws)) for j in range(len(Ws)) if i < j]
    return sum(np.sum((X @ Ws[i] - X @ Ws[j]) ** 2) for i, j in pairs) / len(pairs)


@case(lambda r: _wXy(r), wrt="w")
def builtin_max_min_over_generator(w, X, y):
    errs = [np.mean((X[i::2] @ w - y[i::2]) ** 2) for i in range(2)]
    return max(errs) + 0.5 * min(e for e in errs) + 0.1 * abs(np.sum(w))


# ----------------------------------------------------------------------------- loops


@case(lambda r: (r.normal(size=(4, D)), r.normal(size=(N, D)), r.integers(0, 4, N)), wrt="W")
def for_over_range_with_break_continue(W, X, labels):
    loss = 0.0
    for i in range(100):
        if i >= X.shape[0]:
            break
        if i == 2:
            continue
        s = W @ X[i]
        loss += logsumexp(s) - s[labels[i]]
    return loss


@case(lambda r: ([r.normal(size=D), r.normal(size=D)], [0.5, 2.0], r.normal(size=(N, D))), wrt="ws")
def for_over_zip(ws, scales, X):
    total = 0
    for w, s in zip(ws, scales):
        total = total + s * np.sum(np.tanh(X @ w) ** 2)
    return total


@case(lambda r: ([r.normal(size=D) for _ in range(3)], r.normal(size=(N, D))), wrt="ws")
def for_over_enumerate(ws, X):
    out = 0.0
    for k, w in enumerate(ws):
        out += (k + 1) * np.mean(np.sin(X @ w))
    return out


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), r.normal(size=N)), wrt="w")
def for_over_python_list(w, X, y):
    penalties = [0.1, 0.01, 0.001]
    loss = np.mean((X @ w - y) ** 2)
    for p in penalties:
        loss = loss + p * np.sum(np.abs(w) ** (1 + p))
    return loss


@case(
    lambda r: ({"l2": r.normal(size=D), "l1": r.normal(size=D)}, r.normal(size=(N, D))),
    wrt="params",
)
def for_over_dict_items(params, X):
    weights = {"l2": 0.5, "l1": 0.1}
    loss = 0.0
    for name, value in params.items():
        if name == "l2":
            loss += weights[name] * np.sum(value**2)
        else:
            loss += weights[name] * np.sum(np.sqrt(value**2 + 1e-3))
        loss += np.mean(np.tanh(X @ value))
    return loss


@case(lambda r: (r.normal(size=(D, 2)), r.normal(size=(N, D))), wrt="W")
def for_over_array_rows(W, X):
    loss = 0.0
    for row in X:
        z = row @ W
        loss = loss + logsumexp(z) - z[0]
    return loss / X.shape[0]


@case(lambda r: (r.normal(size=(D, D)) * 0.3, r.normal(size=D)), wrt=["A", "x0"])
def while_fixed_count(A, x0):
    x = x0
    i = 0
    while i < 5:
        x = np.tanh(A @ x) + x0
        i += 1
    return np.sum(x**2)


@case(lambda r: (r.normal(size=(D, D)) * 0.2, r.normal(size=D)), wrt=["A", "b"])
def while_until_converged_on_traced_value(A, b, tol=1e-3):
    # fixed-point iteration x = tanh(A x) + b; the number of steps depends on the values
    x = np.zeros_like(b)
    for _ in range(200):
        x_new = np.tanh(A @ x) + b
        if np.max(np.abs(x_new - x)) < tol:
            break
        x = x_new
    return np.sum(x_new**2)


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D))), wrt="w")
def while_true_with_break(w, X):
    k = 0
    acc = 0.0
    while True:
        acc = acc + np.mean(np.cos(X[k] * w))
        k += 1
        if k == len(X):
            break
    return acc


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D))), wrt="w")
def for_else_clause(w, X):
    loss = 0.0
    for i in range(X.shape[0]):
        loss += np.exp(-np.sum((X[i] - w) ** 2))
    else:
        loss = loss * 2
    return -np.log(loss)


# ----------------------------------------------------------------------------- branches


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), r.normal(size=N)), wrt="w")
def if_elif_else_on_shape_and_ndim(w, X, y, penalty="l2"):
    if X.ndim == 1:
        X = X[None, :]
    if penalty == "l1":
        reg = np.sum(np.abs(w))
    elif penalty == "l2":
        reg = np.sum(w**2)
    else:
        reg = 0.0
    if X.shape[0] > 100:
        data = np.mean((X @ w - y) ** 2)
    elif X.shape[0] > 3:
        data = np.sum((X @ w - y) ** 2) / X.shape[0]
    else:
        data = np.sum((X @ w - y) ** 2)
    return data + 0.1 * reg


@case(lambda r: (r.normal(size=D) + 0.5, r.normal(size=(N, D))), wrt="w")
def if_on_traced_value(w, X):
    s = np.sum(w)
    if s > 0:
        out = np.sum(np.tanh(X @ w))
    else:
        out = np.sum(np.sin(X @ w))
    return out**2


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), r.normal(size=N)), wrt="w")
def conditional_expression(w, X, y, robust=True):
    r = X @ w - y
    per_sample = np.log1p(r**2) if robust else r**2
    scale = 1.0 / len(y) if len(y) > 0 else 1.0
    return scale * per_sample.sum()


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), r.normal(size=N)), wrt="w")
def boolean_operators_and_chained_comparison(w, X, y):
    n, d = X.shape
    use_mean = 0 < n < 1000 and d >= 1
    fallback = None
    scale = fallback or 2.0
    if use_mean and not (d > 10):
        return scale * np.mean((X @ w - y) ** 2)
    return np.sum((X @ w - y) ** 2)


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D))), wrt="w")
def ternary_on_traced_scalar(w, X):
    z = X @ w
    return sum(v if v > 0 else 0.1 * v for v in np.sin(z)) + 0.01 * np.sum(w**2)


# ----------------------------------------------------------------------------- exceptions and context managers


@case(lambda r: ({"w": r.normal(size=D)}, r.normal(size=(N, D)), r.normal(size=N)), wrt="params")
def try_except_missing_key(params, X, y):
    try:
        b = params["b"]
    except KeyError:
        b = 0.0
    return np.mean((X @ params["w"] + b - y) ** 2)


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), r.normal(size=N)), wrt="w")
def try_except_raised_in_helper(w, X, y):
    def checked_log(v):
        if np.any(v <= 0):
            raise ValueError("non-positive")
        return np.log(v)

    try:
        out = np.sum(checked_log(X @ w - y))
    except ValueError:
        out = np.sum(np.log1p((X @ w - y) ** 2))
    return out


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), r.normal(size=N)), wrt="w")
def try_finally(w, X, y):
    log = []
    try:
        loss = np.mean((X @ w - y) ** 2)
        log.append("computed")
    finally:
        log.append("done")
    return loss * len(log) / 2


@case(lambda r: (r.normal(size=(4, 4)) * 0.3, r.normal(size=4)), wrt="A")
def try_cholesky_except_linalg_error(A, y):
    K = A @ A.T + 0.5 * np.eye(4)
    try:
        L = np.linalg.cholesky(K)
        logdet = 2 * np.sum(np.log(np.diag(L)))
    except np.linalg.LinAlgError:
        logdet = np.linalg.slogdet(K)[1]
    return 0.5 * (y @ np.linalg.solve(K, y) + logdet)


@case(
    lambda r: (r.normal(size=D), r.normal(size=(N, D)), (r.random(N) < 0.5).astype(float)), wrt="w"
)
def with_errstate(w, X, y):
    p = expit(X @ w)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = y * np.log(p) + (1 - y) * np.log(1 - p)
    return -np.mean(ll)


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D))), wrt="w")
def with_warnings_catch(w, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = np.exp(X @ w)
    return np.log(np.sum(z))


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), r.normal(size=N)), wrt="w")
def assert_on_shapes_and_values(w, X, y):
    assert X.shape[1] == w.shape[0], f"shape mismatch: {X.shape} vs {w.shape}"
    assert len(y) == len(X)
    r = X @ w - y
    assert np.all(np.isfinite(r)), "non-finite residual"
    return r @ r


@case(
    lambda r: (
        {"W0": r.normal(size=(D, 4)) * 0.5, "W1": r.normal(size=(4, 2)) * 0.5},
        r.normal(size=(N, D)),
    ),
    wrt="params",
)
def f_string_keys(params, X):
    h = X
    n_layers = sum(1 for k in params if k.startswith("W"))
    for i in range(n_layers):
        h = np.tanh(h @ params[f"W{i}"])
    name = f"{n_layers}-layer net, {h.shape=}"
    assert name.startswith("2-layer")
    return np.sum(h**2)


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), r.normal(size=N)), wrt="w")
def del_statement(w, X, y):
    tmp = X @ w
    r = tmp - y
    del tmp
    scratch = {"a": 1, "b": r}
    del scratch["a"]
    items = [r, w]
    del items[1]
    return np.sum(scratch["b"] ** 2) + np.sum(items[0])


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D))), wrt="w")
def print_shapes(w, X):
    import io

    buf = io.StringIO()
    z = X @ w
    print("shapes", X.shape, z.shape, file=buf)
    return np.sum(z**2) + 0 * len(buf.getvalue())


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), r.normal(size=N)), wrt="w")
def walrus_operator(w, X, y):
    if (n := X.shape[0]) > 2:
        return np.sum((r := X @ w - y) ** 2) / n + 0 * r[0]
    return 0.0


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), r.normal(size=N)), wrt="w")
def isinstance_and_len_checks(w, X, y):
    if isinstance(w, np.ndarray) and w.dtype == np.float64 and isinstance(y, np.ndarray):
        n = len(y)
    else:
        n = 1
    return np.sum((X @ w - y) ** 2) / n


# ----------------------------------------------------------------------------- calling conventions


def _penalty(w, *, kind="l2", strength=0.1):
    if kind == "l2":
        return strength * np.sum(w**2)
    return strength * np.sum(np.sqrt(w**2 + 1e-4))


@case(lambda r: Call(_wXy(r), {"strength": 0.3}), wrt="w")
def keyword_only_and_defaults(w, X, y, *, kind="l1", strength=0.1, fit_intercept=False):
    r = X @ w - y
    if fit_intercept:
        r = r - r.mean()
    return np.mean(r**2) + _penalty(w, kind=kind, strength=strength)


def _sum_of_squares(*arrays, weight=1.0):
    return weight * sum(np.sum(a**2) for a in arrays)


@case(lambda r: (r.normal(size=D), r.normal(size=D), r.normal(size=(N, D))), wrt=["u", "v"])
def star_args_helper(u, v, X):
    terms = (X @ u, X @ v)
    return _sum_of_squares(*terms, weight=0.5) + _sum_of_squares(u, v)


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), 0.5, 1.5), wrt=["w", "coefs"])
def star_args_signature(w, X, *coefs):
    z = X @ w
    return sum(c * np.mean(np.tanh(c * z)) for c in coefs)


def _weighted_loss(pred, target, **options):
    loss = np.mean((pred - target) ** 2)
    if options.get("l1_weight"):
        loss = loss + options["l1_weight"] * np.mean(np.sqrt((pred - target) ** 2 + 1e-3))
    return loss * options.get("scale", 1.0)


@case(lambda r: Call(_wXy(r), {"scale": 2.0, "l1_weight": 0.5}), wrt="w")
def double_star_kwargs(w, X, y, **opts):
    return _weighted_loss(X @ w, y, **opts)


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D))), wrt="w")
def argument_unpacking_and_star_assignment(w, X):
    first, *middle, last = X @ w
    head, (a, b) = w[0], w[1:]
    return first * last + sum(m**2 for m in middle) + head * a * b


class Standardizer:
    def __init__(self, mean, scale):
        self.mean = mean
        self.scale = scale

    def transform(self, X):
        return (X - self.mean) / self.scale


class LinearModel:
    def __init__(self, alpha):
        self.alpha = alpha

    def predict(self, w, X):
        return X @ w

    def penalty(self, w):
        return self.alpha * np.sum(w**2)

    def loss(self, w, X, y):
        return np.mean((self.predict(w, X) - y) ** 2) + self.penalty(w)


_MODEL = LinearModel(alpha=0.05)
_SCALER = Standardizer(np.array([0.1, -0.2, 0.3]), np.array([1.5, 0.5, 2.0]))


@case(lambda r: _wXy(r), wrt="w")
def bound_method_calls_on_user_objects(w, X, y):
    return _MODEL.loss(w, _SCALER.transform(X), y)


bound_method_as_loss = case(lambda r: _wXy(r), wrt="w", name="bound_method_as_loss")(_MODEL.loss)


@case(
    lambda r: (
        r.normal(size=D),
        Standardizer(r.normal(size=D), r.uniform(0.5, 2, D)),
        r.normal(size=(N, D)),
    ),
    wrt="w",
)
def user_object_argument_attributes(w, scaler, X):
    Z = scaler.transform(X)
    return np.sum(np.tanh(Z @ w) ** 2) + np.sum(scaler.mean * w)


_GLOBAL_WEIGHTS = np.array([1.0, 2.0, 0.5, 1.0, 1.5, 0.25])


@case(lambda r: _wXy(r), wrt="w")
def module_global_array_and_math(w, X, y):
    r = X @ w - y
    return np.sum(_GLOBAL_WEIGHTS * r**2) / math.sqrt(len(y)) + math.pi * 0.01 * np.sum(w**2)


@case(lambda r: (r.normal(size=(D, 2)), r.normal(size=(N, D))), wrt="W")
def array_methods(W, X):
    Z = X.dot(W)
    out = Z.sum(axis=0).mean() + Z.T.reshape(-1).std() + Z.max(axis=1).sum() + Z.ravel().var()
    return out + np.abs(Z.prod(axis=1)).sum() + Z.clip(-1, 1).sum() * 0 + Z.flatten()[0]


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), r.normal(size=N)), wrt="w")
def list_and_dict_methods(w, X, y):
    parts = []
    parts.append(np.mean((X @ w - y) ** 2))
    parts.extend([0.1 * np.sum(w**2), 0.0])
    parts.pop()
    terms = {}
    terms.update(data=parts[0])
    terms.setdefault("reg", parts[1])
    return terms.get("data") + terms["reg"] + terms.get("missing", 0.0)


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D))), wrt="w")
def shape_as_number_symbolic(w, X):
    n = X.shape[0]
    d = X.shape[-1]
    return np.sum(np.tanh(X @ w)) / n + np.sum(w) / d + X.size * 0.001 * np.mean(w)


# ----------------------------------------------------------------------------- augmented assignment and in-place updates


@case(lambda r: _wXy(r), wrt="w")
def augmented_assignment_all_operators(w, X, y):
    z = X @ w
    z += 1.0
    z -= 0.5
    z *= 2.0
    z /= 3.0
    z **= 2
    s = np.sum(z)
    s += np.sum(y * z)
    s -= 1
    s *= 0.5
    s /= len(y)
    return s


@case(lambda r: (r.normal(size=(D, 4)), r.normal(size=(N, D))), wrt="W", cbackend=True)
def inplace_mask_assign_zero(W, X):
    z = X @ W
    z[z < 0] = 0  # relu by masking
    return np.sum(z**2)


@case(lambda r: (r.normal(size=(D, 4)), r.normal(size=4), r.normal(size=(N, D))), wrt=["W", "b"])
def inplace_add_bias(W, b, X):
    h = X @ W
    h += b
    h *= 0.5
    return np.sum(np.tanh(h))


@case(lambda r: (r.normal(size=(D, 2)), r.normal(size=(N, D))), wrt="W")
def fill_rows_of_preallocated_array(W, X):
    out = np.zeros((X.shape[0], 2))
    for i in range(X.shape[0]):
        out[i] = np.tanh(X[i] @ W)
    out[:, 1] = out[:, 1] * 2
    out[0, 0] = 1.0
    return np.sum(out**2)


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D)), r.normal(size=N)), wrt="w")
def inplace_mask_augmented_update(w, X, y):
    r = X @ w - y
    big = np.abs(r) > 0.5
    weights = np.ones_like(r)
    weights[big] *= 0.5
    r2 = r.copy()
    r2[big] += 0.1 * r[big]
    return np.sum(weights * r2**2)


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D))), wrt="w")
def inplace_integer_index_and_slice_assign(w, X):
    z = np.tanh(X @ w)
    buf = np.empty(len(z) + 2)
    buf[0] = 0.0
    buf[-1] = 0.0
    buf[1:-1] = z
    buf[np.array([0, -1])] = z[[0, -1]]
    return np.sum(np.diff(buf) ** 2)


@case(lambda r: (r.normal(size=(D, 4)), r.normal(size=2), r.normal(size=(N, D))), wrt=["W", "b"])
def inplace_slice_augmented_update(W, b, X):
    h = X @ W
    h[:, :2] += b  # bias on the first two units only
    h[0] *= 2.0
    h[1:3, -1] -= 0.5 * b[0]
    return np.sum(np.tanh(h) ** 2)


# ----------------------------------------------------------------------------- subscripts of every kind


@case(lambda r: (r.normal(size=(4, 5)),), wrt="A")
def subscripts_basic_int_negative_step(A):
    return (
        A[0, 0] * A[-1, -1]
        + np.sum(A[1])
        + np.sum(A[:, 2])
        + np.sum(A[::2, 1::2] ** 2)
        + np.sum(A[::-1, 0] * np.arange(4))
        + A[-2][3]
    )


@case(lambda r: (r.normal(size=(3, 4, 2)),), wrt="T")
def subscripts_ellipsis_newaxis(T):
    a = T[..., 0]
    b = T[0, ...]
    c = T[:, None, :, 1]
    d = T[np.newaxis, ..., 1]
    return np.sum(a**2) + np.sum(b[:, 0] * b[:, 1]) + np.sum(np.tanh(c)) + np.sum(d * d.sum())


@case(lambda r: (r.normal(size=(5, 4)),), wrt="A")
def subscripts_integer_arrays(A):
    rows = np.array([0, 2, 2, 4])
    cols = np.array([1, 3, 0, 1])
    picked = A[rows, cols]  # several integer arrays at once (with a repeat)
    sub = A[rows][:, [0, 2]]  # chained
    mixed = A[1:4, cols[:2]]  # slice mixed with integer array
    grid = A[np.ix_([0, 4], [1, 2])]
    return np.sum(picked**2) + np.sum(np.sin(sub)) + np.sum(mixed) + np.prod(grid)


@case(lambda r: (r.normal(size=(5, 3)),), wrt="A")
def subscripts_boolean_masks(A):
    pos = A > 0
    row_mask = A.sum(axis=1) > 0
    col_mask = np.array([True, False, True])
    return (
        np.sum(A[pos] ** 2)
        + np.sum(A[~pos])
        + np.sum(np.tanh(A[row_mask]))
        + np.sum(A[:, col_mask] ** 3)
    )


@case(lambda r: (r.normal(size=(4, 3)), r.integers(0, 3, 4)), wrt="A")
def subscripts_tuple_index_and_take_along_axis(A, labels):
    idx = (np.arange(4), labels)
    a = A[idx]
    b = np.take_along_axis(A, labels[:, None], axis=1)[:, 0]
    c = np.take(A, [2, 0], axis=1)
    return np.sum(a * b) + np.sum(c**2)


@case(
    lambda r: (
        {"layers": [{"w": r.normal(size=3)}, {"w": r.normal(size=3)}], "scale": (0.5, 2.0)},
        r.normal(size=(N, 3)),
    ),
    wrt="params",
)
def nested_pytree_subscripts(params, X):
    first = params["layers"][0]["w"]
    last = params["layers"][-1]["w"]
    lo, hi = params["scale"]
    return lo * np.sum(np.tanh(X @ first)) + hi * np.sum((X @ last) ** 2) / len(X)


@case(lambda r: (np.arange(D, dtype=np.int64), r.normal(size=(N, D))), wrt="w")
def integer_input_differentiated_as_float(w, X):
    return np.sum((X @ w) ** 2) / len(X)


@case(lambda r: (r.normal(size=D), r.normal(size=(N, D))), wrt=None)
def returns_tuple_and_dict(w, X):
    z = X @ w
    return z.sum(), {"probs": expit(z), "margin": z[:2]}, [np.tanh(w)]
