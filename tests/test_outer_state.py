"""State outside the loss's arguments is read at call time; side effects happen once per call.

Every case changes outer state after a first call and compares the compiled value and gradient
with plain numpy run natively after the change (gradients with hand-derived ones), and counts
traces with cache_info(): a changed value must not retrace, a changed dtype or ndim must.
"""

import logging

import numpy as np
import pytest

import skautodiff
from skautodiff.estimators import AutodiffRegressor

W = np.array([0.5, -1.0, 2.0])


def traces():
    return skautodiff.cache_info().traces


def check_now(fn, grad, w=W):
    """fn's compiled value equals fn run natively now; its gradient equals grad(w)."""
    value, g = skautodiff.value_and_grad(fn, wrt=0)(w)
    assert value == pytest.approx(fn(w), rel=1e-12)
    np.testing.assert_allclose(g, grad(w), rtol=1e-12)
    assert skautodiff.Function(fn)(w) == pytest.approx(fn(w), rel=1e-12)


# ---------------------------------------------------------------- globals
T = np.ones(3)


def target_loss(w):
    return np.sum((w - T) ** 2)


def test_global_array_changed_in_place():
    global T
    T = np.ones(3)
    check_now(target_loss, lambda w: 2 * (w - T))
    before = traces()
    T[:] = 7.0
    check_now(target_loss, lambda w: 2 * (w - T))
    assert target_loss(W) == pytest.approx(np.sum((W - 7.0) ** 2))
    assert traces() == before  # a value: no retrace
    T = np.full(3, 2.0, dtype=np.float32)  # a dtype: retraces
    check_now(target_loss, lambda w: 2 * (w - T.astype(np.float64)))
    assert traces() > before
    before = traces()
    T = np.full((1, 3), 3.0)  # ndim (and a length-1 axis): retraces
    value, _ = skautodiff.value_and_grad(target_loss, wrt=0)(W)
    assert value == pytest.approx(target_loss(W), rel=1e-12)
    assert traces() > before
    T = np.ones(3)


CFG = {"alpha": 1.0, "shift": np.zeros(3), "name": "ridge"}


def config_loss(w):
    return CFG["alpha"] * np.sum((w - CFG["shift"]) ** 2)


def test_global_dict_entry():
    CFG.update(alpha=1.0, shift=np.zeros(3))
    check_now(config_loss, lambda w: 2 * CFG["alpha"] * (w - CFG["shift"]))
    before = traces()
    CFG["alpha"] = 10.0
    CFG["shift"][1] = 4.0
    check_now(config_loss, lambda w: 2 * 10.0 * (w - np.array([0.0, 4.0, 0.0])))
    CFG["shift"] = np.arange(3.0)  # a new array of the same kind: an input too
    check_now(config_loss, lambda w: 2 * 10.0 * (w - np.arange(3.0)))
    assert traces() == before
    CFG["alpha"] = np.float32(2.0)  # another type and dtype: retraces
    check_now(config_loss, lambda w: 2 * 2.0 * (w - np.arange(3.0)))
    assert traces() > before
    CFG["extra"] = 1  # the dict's keys: retraces
    before = traces()
    check_now(config_loss, lambda w: 2 * 2.0 * (w - np.arange(3.0)))
    assert traces() > before
    del CFG["extra"]


COEFS = [1.0, 2.0, [3.0]]


def list_loss(w):
    return COEFS[0] * np.sum(w) + COEFS[1] * np.sum(w**2) + COEFS[2][0] * w[0]


def test_list_items_nested_too():
    COEFS[:] = [1.0, 2.0, [3.0]]
    check_now(list_loss, lambda w: COEFS[0] + 2 * COEFS[1] * w + np.array([COEFS[2][0], 0, 0]))
    before = traces()
    COEFS[0] = 3.0
    COEFS[2][0] = -5.0
    check_now(list_loss, lambda w: 3.0 + 4.0 * w + np.array([-5.0, 0, 0]))
    assert traces() == before


class Scaler:
    def __init__(self, scale, offset):
        self.scale, self.offset = scale, offset


SCALER = Scaler(1.0, np.zeros(3))


def attribute_loss(w):
    return np.sum((SCALER.scale * w - SCALER.offset) ** 2)


def test_attribute_of_a_global_object():
    SCALER.scale, SCALER.offset = 1.0, np.zeros(3)
    check_now(attribute_loss, lambda w: 2 * SCALER.scale * (SCALER.scale * w - SCALER.offset))
    before = traces()
    SCALER.scale = 2.0
    SCALER.offset[:] = [1.0, 2.0, 3.0]
    check_now(attribute_loss, lambda w: 4.0 * (2.0 * w - np.array([1.0, 2.0, 3.0])))
    assert traces() == before


# ---------------------------------------------------------------- closures and defaults
def make_closure_loss():
    center = np.zeros(3)
    weights = {"a": 1.0}

    def loss(w):
        return weights["a"] * np.sum((w - center) ** 2)

    return loss, center, weights


def test_closure_array_and_dict():
    loss, center, weights = make_closure_loss()
    check_now(loss, lambda w: 2 * (w - center))
    before = traces()
    center += 3.0
    weights["a"] = 0.5
    check_now(loss, lambda w: 2 * 0.5 * (w - 3.0))
    assert traces() == before


def defaults_loss(w, scale=1.0, *, shift=np.zeros(3)):  # noqa: B008 (array defaults are outer state under test)
    return scale * np.sum((w - shift) ** 2)


def test_defaults_and_kwdefaults_changed_later():
    defaults_loss.__defaults__, defaults_loss.__kwdefaults__ = (1.0,), {"shift": np.zeros(3)}
    try:
        check_now(defaults_loss, lambda w: 2 * (w - 0.0))
        before = traces()
        defaults_loss.__defaults__ = (10.0,)
        check_now(defaults_loss, lambda w: 20 * w)
        defaults_loss.__kwdefaults__ = {"shift": np.ones(3)}
        check_now(defaults_loss, lambda w: 20 * (w - 1.0))
        defaults_loss.__kwdefaults__["shift"][0] = 5.0  # a default array changed in place
        check_now(defaults_loss, lambda w: 20 * (w - np.array([5.0, 1.0, 1.0])))
        assert traces() == before
    finally:
        defaults_loss.__defaults__, defaults_loss.__kwdefaults__ = (1.0,), {"shift": np.zeros(3)}


# ---------------------------------------------------------------- argument objects
class Model:
    def __init__(self):
        self.config = {"alpha": 1.0, "center": np.zeros(3)}

    def loss(self, w):
        return self.config["alpha"] * np.sum((w - self.config["center"]) ** 2)


def test_items_reached_from_an_argument_object():
    m = Model()
    f = skautodiff.Function(m.loss)
    assert f(W) == pytest.approx(m.loss(W))
    before = traces()
    m.config["alpha"] = 3.0
    m.config["center"][2] = 1.0
    assert f(W) == pytest.approx(m.loss(W), rel=1e-12)
    assert traces() == before
    np.testing.assert_allclose(
        skautodiff.Gradient(m.loss, wrt=0)(W), 6.0 * (W - np.array([0, 0, 1.0]))
    )


class Slotted:
    __slots__ = ("scale",)

    def __init__(self, scale):
        self.scale = scale


def _weighted(w, data):
    """A loss over argument objects that are not numbers: computed natively as the reference."""
    ordered, levels, Z, slotted = data
    return (
        np.sum(w * ordered["c"]) * ordered["k"]
        + len(levels) * np.sum(w**2)
        + (np.sum(w) if 2 in levels else 0.0)
        + np.sum(np.real(Z) @ w)
        + np.sum(w * slotted.scale)
    )


def _weighted_grad(w, data):
    ordered, levels, Z, slotted = data
    return (
        ordered["c"] * ordered["k"]
        + 2 * len(levels) * w
        + (1.0 if 2 in levels else 0.0)
        + np.sum(np.real(Z), axis=0)
        + slotted.scale
    )


def test_argument_objects_that_are_not_plain_data_are_read_at_call_time():
    """An OrderedDict, a set, a complex array and an object with __slots__ are kept in the
    arguments' structure (not numeric leaves) and key the cache by identity or type: each is
    read again at every call, so an in-place change, or another object of the same type,
    gives today's value rather than the traced one."""
    import collections

    data = (
        collections.OrderedDict(c=np.array([1.0, 2.0, 3.0]), k=2.0),
        {1, 2},
        np.array([[1 + 1j, 2 - 1j, 0.5j]]),
        Slotted(np.array([0.5, 0.5, 0.5])),
    )
    vg = skautodiff.value_and_grad(_weighted, wrt="w")

    def check(data):
        value, grad = vg(W, data)
        assert value == pytest.approx(_weighted(W, data), rel=1e-12)
        np.testing.assert_allclose(grad, _weighted_grad(W, data), rtol=1e-12)

    check(data)
    data[0]["c"][0] = 10.0  # an array inside, in place
    data[0]["k"] = 3.0
    check(data)
    data[1].discard(2)
    check(data)
    complex_array = data[2]
    complex_array *= 3  # in place
    check(data)
    data[3].scale = np.array([1.0, -1.0, 4.0])
    check(data)
    other = (
        collections.OrderedDict(c=np.array([-1.0, 0.0, 1.0]), k=0.5),
        {5, 2, 7},
        np.array([[3j, 1.0, 2.0]]),
        Slotted(np.zeros(3)),
    )
    check(other)


class Table:
    """Columns by name through a native __getitem__ (as a pandas DataFrame's)."""

    def __init__(self, columns):
        self._columns = columns

    def __getitem__(self, name):
        return np.asarray(self._columns[name])


def weighted_by_column(w, table):
    return np.sum(w * table["a"])


def test_an_argument_object_indexed_by_native_code_is_guarded_on_its_attributes():
    """`table["a"]` runs the object's own __getitem__ natively (a constant of the graph): another
    object of the same type, or one whose attributes were replaced, traces again instead of
    giving the first table's column."""
    vg = skautodiff.value_and_grad(weighted_by_column, wrt=0)
    for table in (
        Table({"a": [1.0, 2.0, 3.0]}),
        Table({"a": [-1.0, 0.0, 4.0]}),
        Table({"a": [0.5, 0.5, 0.5]}),
    ):
        value, grad = vg(W, table)
        assert value == pytest.approx(weighted_by_column(W, table), rel=1e-12)
        np.testing.assert_allclose(grad, table["a"])
    table._columns = {"a": [2.0, 2.0, 2.0]}
    value, grad = vg(W, table)
    assert value == pytest.approx(2.0 * np.sum(W), rel=1e-12)


# ---------------------------------------------------------------- what the trace may not do
def test_outer_arrays_are_not_written_by_the_trace():
    """The function's own write into an outer array happens once per call, as natively."""
    counts = np.zeros(2)

    def loss(w):
        counts[0] += 1.0  # a side effect: once per call
        return np.sum(w**2) * counts[0]

    f = skautodiff.value_and_grad(loss, wrt=0)
    for n in (1, 2, 3):
        value, grad = f(W)
        assert counts[0] == n
        assert value == pytest.approx(np.sum(W**2) * n)  # what the plain call returned
        np.testing.assert_allclose(grad, 2 * W * n)


def test_code_without_a_symbolic_rule_uses_an_outer_array_at_its_value():
    edges = np.array([0.0, 1.0, 2.0])

    def loss(w):
        idx = np.digitize(np.array([0.5, 1.5]), edges)  # no rule: computed natively, guarded
        return np.sum(w[idx] ** 2)

    f = skautodiff.Function(loss)
    assert f(W) == pytest.approx(loss(W))
    edges[:] = [0.7, 1.0, 2.0]  # now w[[0, 2]] instead of w[[1, 2]]
    assert f(W) == pytest.approx(loss(W)) and loss(W) == pytest.approx(W[0] ** 2 + W[2] ** 2)


def test_assigning_a_property_of_an_outer_object_is_refused():
    class Box:
        @property
        def size(self):
            return 1.0

        @size.setter
        def size(self, value):
            pass

    box = Box()

    def loss(w):
        box.size = np.sum(w)
        return box.size

    with pytest.raises(skautodiff.TraceError, match="property or custom __setattr__") as info:
        skautodiff.Function(loss)(W)
    assert "box.size = np.sum(w)" in str(info.value)


# ---------------------------------------------------------------- side effects
def test_print_runs_once_per_call(capsys):
    def loss(w):
        print("loss called")
        return np.sum(w**2)

    f = skautodiff.Function(loss)
    for _ in range(3):
        assert f(W) == pytest.approx(np.sum(W**2))
    assert capsys.readouterr().out == "loss called\n" * 3


def test_print_before_a_trace_error_is_shown(capsys):
    def loss(w):
        print("before")
        return np.sum(np.random.normal(size=3) * w)

    with pytest.raises(skautodiff.TraceError):
        skautodiff.Function(loss)(W)
    assert capsys.readouterr().out == "before\n"


HISTORY = []


def logged_loss(w):
    value = np.sum(w**2)
    HISTORY.append(float(value))
    return value


def test_outer_list_appended_once_per_call_without_retracing(caplog):
    HISTORY.clear()
    f = skautodiff.value_and_grad(logged_loss, wrt=0)
    with caplog.at_level(logging.INFO, logger="skautodiff"):
        for scale in (1.0, 2.0, 3.0):
            value, grad = f(W * scale)
            np.testing.assert_allclose(grad, 2 * W * scale)
    np.testing.assert_allclose(HISTORY, [np.sum((W * s) ** 2) for s in (1.0, 2.0, 3.0)])
    assert skautodiff.cache_info().traces - traces() == 0
    notes = [r.getMessage() for r in caplog.records if "side effects" in r.getMessage()]
    assert len(notes) <= 1 and (not notes or "logged_loss" in notes[0])


def test_appending_does_not_retrace():
    history = []

    def loss(w):
        history.append(w[0])
        return np.sum(w**2)

    f = skautodiff.Function(loss)
    f(W)
    before = traces()
    for _ in range(4):
        f(W)
    assert traces() == before and len(history) == 5


def test_state_the_function_updates_gives_plain_python_results():
    state = {"calls": 0}

    def loss(w):
        state["calls"] += 1
        return state["calls"] * np.sum(w)

    f = skautodiff.Function(loss)
    assert [f(W) for _ in range(3)] == pytest.approx([n * np.sum(W) for n in (1, 2, 3)])
    assert state["calls"] == 3


def test_outer_array_written():
    last = np.zeros(3)

    def loss(w):
        last[:] = w
        return np.sum(w**2)

    g = skautodiff.Gradient(loss, wrt=0)
    for scale in (1.0, -2.0):
        np.testing.assert_allclose(g(W * scale), 2 * W * scale)
        np.testing.assert_array_equal(last, W * scale)


def test_minimize_runs_the_side_effects_once_per_evaluation():
    evaluations = []

    def loss(w):
        evaluations.append(w.copy())
        return np.sum((w - 3.0) ** 2)

    result = skautodiff.minimize(loss, np.zeros(3))
    np.testing.assert_allclose(result.x, 3.0, atol=1e-5)
    assert len(evaluations) == result.nfev
    np.testing.assert_allclose(evaluations[-1], result.x, atol=1e-5)


def test_nonlocal_counter():
    calls = 0

    def loss(w):
        nonlocal calls
        calls += 1
        return np.sum(w) * calls

    f = skautodiff.Function(loss)
    assert [f(W) for _ in range(3)] == pytest.approx([n * np.sum(W) for n in (1, 2, 3)])
    assert calls == 3


def test_side_effects_are_logged_once(caplog):
    def noisy_loss(w):
        print("x", end="")
        return np.sum(w)

    f = skautodiff.Function(noisy_loss)
    with caplog.at_level(logging.INFO, logger="skautodiff"):
        f(W)
        f(W)
    notes = [r.getMessage() for r in caplog.records if "side effects" in r.getMessage()]
    assert len(notes) == 1
    assert (
        "print" in notes[0] and "test_outer_state.py" in notes[0] and "runs it natively" in notes[0]
    )


# ---------------------------------------------------------------- estimators
PRIOR = np.zeros(3)


def prior_ridge_loss(params, X, y):
    r = X @ params["w"] + params["b"] - y
    return np.mean(r**2) + 0.5 * np.sum((params["w"] - PRIOR) ** 2)


def linear_init(X, y, rng):
    return {"w": np.zeros(X.shape[1]), "b": 0.0}


def linear_predict(params, X):
    return X @ params["w"] + params["b"]


def closed_form(X, y, prior, alpha=0.5):
    """argmin mean((Xw + b - y)^2) + alpha ||w - prior||^2, as one least-squares problem."""
    n, d = X.shape
    A = np.vstack(
        [
            np.hstack([X, np.ones((n, 1))]) / np.sqrt(n),
            np.hstack([np.sqrt(alpha) * np.eye(d), np.zeros((d, 1))]),
        ]
    )
    rhs = np.concatenate([y / np.sqrt(n), np.sqrt(alpha) * prior])
    return np.linalg.lstsq(A, rhs, rcond=None)[0]


def test_refit_after_an_in_place_change_gives_the_new_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * rng.normal(size=40)
    est = AutodiffRegressor(
        loss=prior_ridge_loss, init_params=linear_init, predict_fn=linear_predict, tol=1e-10
    )
    PRIOR[:] = 0.0
    first = est.fit(X, y).params_["w"].copy()
    np.testing.assert_allclose(first, closed_form(X, y, PRIOR)[:3], atol=1e-5)
    PRIOR[:] = [5.0, 5.0, 5.0]
    second = est.fit(X, y).params_["w"]
    np.testing.assert_allclose(second, closed_form(X, y, PRIOR)[:3], atol=1e-5)
    assert np.max(np.abs(second - first)) > 0.5
    PRIOR[:] = 0.0


# ---------------------------------------------------------------- more roots and outputs
def test_attribute_of_a_user_module(tmp_path, monkeypatch):
    (tmp_path / "outer_config.py").write_text(
        "import numpy as np\nALPHA = 1.0\nCENTER = np.zeros(3)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import outer_config

    def loss(w):
        return outer_config.ALPHA * np.sum((w - outer_config.CENTER) ** 2)

    check_now(loss, lambda w: 2 * (w - 0.0))
    before = traces()
    outer_config.ALPHA = 4.0
    outer_config.CENTER[0] = 1.0
    check_now(loss, lambda w: 8.0 * (w - np.array([1.0, 0, 0])))
    assert traces() == before


FLAGS = {"squared": True, "names": {"a", "b"}}


def flagged_loss(w):
    out = np.sum(w**2) if FLAGS["squared"] else np.sum(np.abs(w))
    return out + len(FLAGS["names"])


def test_flags_and_sets_are_guarded_by_value():
    FLAGS.update(squared=True, names={"a", "b"})
    f = skautodiff.Function(flagged_loss)
    assert f(W) == pytest.approx(flagged_loss(W))
    FLAGS["squared"] = False
    assert f(W) == pytest.approx(flagged_loss(W))
    FLAGS["names"].add("c")
    assert f(W) == pytest.approx(flagged_loss(W)) and flagged_loss(W) == pytest.approx(
        np.sum(np.abs(W)) + 3
    )


def test_logging_stream_and_file_writes_once_per_call(caplog, capsys, tmp_path):
    import sys

    path = tmp_path / "trace.txt"
    logger = logging.getLogger("user.loss")

    def loss(w):
        value = np.sum(w**2)
        logger.warning("value %s", float(value))
        sys.stdout.write("w\n")
        with open(path, "a") as f:
            f.write("line\n")
        return value

    f = skautodiff.value_and_grad(loss, wrt=0)
    with caplog.at_level(logging.WARNING, logger="user.loss"):
        for _ in range(3):
            f(W)
    assert [r.getMessage() for r in caplog.records if r.name == "user.loss"] == [
        f"value {np.sum(W**2)}"
    ] * 3
    assert capsys.readouterr().out == "w\n" * 3
    assert path.read_text() == "line\n" * 3


def test_a_buffer_made_inside_is_no_side_effect(caplog):
    import io

    def loss(w):
        buf = io.StringIO()
        print("shape", w.shape, file=buf)
        return np.sum(w) + 0 * len(buf.getvalue())

    with caplog.at_level(logging.INFO, logger="skautodiff"):
        assert skautodiff.Function(loss)(W) == pytest.approx(np.sum(W))
    assert not [r for r in caplog.records if "side effects" in r.getMessage()]


def test_an_outer_object_used_by_library_code_is_guarded_on_its_attributes():
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    scaler = StandardScaler().fit(rng.normal(size=(20, 3)))

    def loss(w):
        z = scaler.transform(np.ones((1, 3)))[0]  # scikit-learn reads scaler.mean_ natively
        return np.sum((w - z) ** 2)

    f = skautodiff.Function(loss)
    assert f(W) == pytest.approx(loss(W), rel=1e-12)
    scaler.fit(rng.normal(loc=5.0, size=(20, 3)))  # a refit: new mean_ and scale_
    assert f(W) == pytest.approx(loss(W), rel=1e-12)


def penalty(w, weights=np.ones(3), *, power=2.0):  # noqa: B008 (array defaults are outer state under test)
    return np.sum(weights * np.abs(w) ** power)


def uses_a_helper_with_defaults(w):
    return penalty(w) + np.sum(w)


def test_defaults_of_a_helper_are_read_at_call_time():
    penalty.__defaults__, penalty.__kwdefaults__ = (np.ones(3),), {"power": 2.0}
    try:
        check_now(uses_a_helper_with_defaults, lambda w: 2 * w + 1)
        before = traces()
        penalty.__defaults__[0][:] = [1.0, 2.0, 3.0]
        check_now(uses_a_helper_with_defaults, lambda w: 2 * np.array([1.0, 2.0, 3.0]) * w + 1)
        penalty.__kwdefaults__ = {"power": 4.0}
        check_now(uses_a_helper_with_defaults, lambda w: 4 * np.array([1.0, 2.0, 3.0]) * w**3 + 1)
        assert traces() == before
    finally:
        penalty.__defaults__, penalty.__kwdefaults__ = (np.ones(3),), {"power": 2.0}


@pytest.mark.cbackend
def test_c_backend_reads_outer_state_at_call_time(capsys):
    center = np.zeros(3)
    config = {"alpha": 1.0}

    def loss(w):
        print("call")
        return config["alpha"] * np.sum((w - center) ** 2)

    f = skautodiff.value_and_grad(loss, wrt=0)
    f(W)
    before = traces()
    center[:] = [1.0, 2.0, 3.0]
    config["alpha"] = 0.5
    value, grad = f(W)
    assert value == pytest.approx(0.5 * np.sum((W - center) ** 2), rel=1e-12)
    np.testing.assert_allclose(grad, W - center, rtol=1e-12)
    assert traces() == before
    assert capsys.readouterr().out == "call\n" * 2


# ---------------------------------------------------------------- callables and integers from outside
def test_callables_from_outside_are_guarded_by_identity():
    """np.std and np.var (numpy's dispatchers), or two functools.partials, share a type: swapping
    one for the other in a closure, a global or an attribute must retrace, not reuse the trace."""
    import functools

    class Config:
        pass

    config = Config()
    config.reduce = np.std
    reduce_ = functools.partial(np.mean, axis=0)
    X = np.arange(6.0).reshape(2, 3) ** 1.5

    def loss(x):
        return np.sum(reduce_(x * x)) + config.reduce(x)

    f = skautodiff.Function(loss)
    assert f(X) == pytest.approx(loss(X), rel=1e-12)
    config.reduce = np.var
    assert f(X) == pytest.approx(loss(X), rel=1e-12)
    reduce_ = functools.partial(np.mean, axis=1)
    assert f(X) == pytest.approx(loss(X), rel=1e-12)


def _reducer(name, axis, ddof):
    reduce_ = getattr(np, name)

    def f(x):  # the same code object for every reducer: only the closure differs
        return np.sum(reduce_(x, axis=axis, ddof=ddof) ** 2)

    return f


@pytest.mark.parametrize("axis", [0, 1])
def test_integers_from_outside_where_a_number_is_needed(axis):
    """axis and ddof read from a closure are inputs; where a rule needs their value it is used,
    guarded: another value (or another function in the closure) traces again."""
    X = np.arange(12.0).reshape(3, 4) ** 1.3
    for name in ("std", "var"):
        for ddof in (0, 1):
            f = _reducer(name, axis, ddof)
            value, grad = skautodiff.value_and_grad(f, wrt=0)(X)
            assert value == pytest.approx(f(X), rel=1e-12)
            eps = 1e-6
            fd = np.array(
                [
                    (f(X + eps * e) - f(X - eps * e)) / (2 * eps)
                    for e in np.eye(X.size).reshape(-1, *X.shape)
                ]
            ).reshape(X.shape)
            np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_a_complex_array_from_outside_changed_in_place():
    """Not an input (complex), so a constant of the graph: guarded by its content, an in-place
    change traces again instead of giving the old value."""
    Z = np.array([1 + 2j, 3 - 1j, -2j])

    def loss(w):
        return np.sum(np.abs(Z) * w**2)

    check_now(loss, lambda w: 2 * np.abs(Z) * w)
    Z[0] = 10.0
    check_now(loss, lambda w: 2 * np.abs(Z) * w)
