"""Errors in the user's own code, and in-place numpy writes on the arguments.

An exception the loss raises (raise, assert, a numpy error, a KeyError, in a helper it calls)
reaches the caller with its own type and message, and its traceback shows the user's frames
exactly as a native call shows them: the reference is the same function run natively, compared
entry by entry (file, line, function, source text, columns). The engine's own frames are absent.

In-place writes on arguments (x.sort(), x.fill, x.put, np.put, np.copyto, out=) act on the
traced code's own copy: values and gradients are compared with numpy run on copies of the
arguments (gradients by central finite differences), and the caller's arrays stay unchanged.
"""

import traceback

import numpy as np
import pytest

import skautodiff
from skautodiff.estimators import AutodiffRegressor
from helpers import finite_difference

X = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0], [1.5, 0.2, -0.7], [-0.4, 1.1, 0.9]])
Y = np.array([1.0, -0.5, 2.0, 0.3])
PARAMS = {"w": np.zeros(3), "b": 0.0}


# ---------------------------------------------------------------- losses that fail (module level)


def loss_raises(params, X, y):
    residual = X @ params["w"] + params["b"] - y
    if residual.shape[0] > 1:
        raise ValueError(f"bad residual of {residual.shape[0]} rows")
    return np.mean(residual**2)


def loss_shape_mismatch(params, X, y):
    return np.mean((X.T @ params["w"] - y) ** 2)


def loss_key_error(params, X, y):
    return np.mean((X @ params["weights"] - y) ** 2)


def loss_assert(params, X, y):
    assert X.shape[1] == 7, "expected 7 features"
    return np.mean((X @ params["w"] - y) ** 2)


def _reshape_rows(z, rows):
    return z.reshape(rows, -1)


def loss_in_helper(params, X, y):
    z = X @ params["w"]
    return np.mean(_reshape_rows(z, 3))


def loss_caught_and_reraised(params, X, y):
    try:
        return np.mean(X @ params["w"][:2])
    except ValueError:
        raise


FAILING = [
    loss_raises,
    loss_shape_mismatch,
    loss_key_error,
    loss_assert,
    loss_in_helper,
    loss_caught_and_reraised,
]


def _minimize(loss):
    return skautodiff.minimize(loss, PARAMS, args=(X, Y))


def _fit(loss):
    return AutodiffRegressor(
        loss=loss,
        init_params={"w": np.zeros(3), "b": 0.0},
        predict_fn=lambda params, X: X @ params["w"] + params["b"],
    ).fit(X, Y)


ENTRY_POINTS = {
    "Function": lambda loss: skautodiff.Function(loss)(PARAMS, X, Y),
    "value_and_grad": lambda loss: skautodiff.value_and_grad(loss)(PARAMS, X, Y),
    "Gradient": lambda loss: skautodiff.Gradient(loss)(PARAMS, X, Y),
    "HessianVector": lambda loss: skautodiff.HessianVector(loss, wrt=0)(
        PARAMS, X, Y, vectors=PARAMS
    ),
    "minimize": _minimize,
    "fit": _fit,
}


def _raised(call, *args):
    with pytest.raises(Exception) as info:
        call(*args)
    return info.value


def _frames(exc):
    """(file, line, function, source, columns) of each traceback entry."""
    return [
        (
            f.filename,
            f.lineno,
            f.name,
            f.line,
            getattr(f, "colno", None),
            getattr(f, "end_colno", None),
        )
        for f in traceback.extract_tb(exc.__traceback__)
    ]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("loss", FAILING, ids=lambda f: f.__name__)
def test_an_error_in_the_loss_is_the_users_and_shows_the_users_lines(entry, loss):
    native = _raised(loss, PARAMS, X, Y)
    got = _raised(ENTRY_POINTS[entry], loss)

    assert (
        type(got) is type(native) and got.args == native.args
    )  # `except ValueError` still catches it
    user_frames = _frames(native)[1:]  # below _raised's own frame: the loss and what it calls
    assert user_frames and (user_frames[0][0], user_frames[0][2]) == (__file__, loss.__name__)
    assert _frames(got)[-len(user_frames) :] == user_frames
    text = "".join(traceback.format_exception(got))
    file, line, name, source = user_frames[0][:4]
    assert f'File "{file}", line {line}, in {name}\n    {source}' in text
    assert "skautodiff/engine" not in text and "During handling" not in text


def test_the_user_line_is_the_failing_line():
    # an independent check of the line number: the line whose text raises
    got = _raised(ENTRY_POINTS["value_and_grad"], loss_raises)
    line = next(
        i for i, text in enumerate(open(__file__), 1) if 'raise ValueError(f"bad residual' in text
    )
    assert (traceback.extract_tb(got.__traceback__)[-1].lineno, str(got)) == (
        line,
        "bad residual of 4 rows",
    )


def test_the_users_own_except_sees_its_error_and_carries_on():
    def loss(params, X, y):
        try:
            params["missing"]
        except KeyError as exc:
            lines = traceback.format_tb(exc.__traceback__)
            assert len(lines) == 1 and 'params["missing"]' in lines[0], lines
        return np.sum(params["w"] ** 2)

    np.testing.assert_allclose(skautodiff.Function(loss)({"w": np.array([1.0, 2.0])}, X, Y), 5.0)


def test_equal_code_in_two_files_is_shown_in_its_own_file(tmp_path):
    # code objects compare equal across files: each error must still name its own file
    source = (
        "import numpy as np\ndef loss(w):\n    raise ValueError('here')\n"
        "def refused(w):\n    return np.sum(w * np.random.normal(size=2))\n"
    )
    for name in ("first.py", "second.py"):
        path = tmp_path / name
        path.write_text(source)
        namespace = {}
        exec(compile(source, str(path), "exec"), namespace)
        err = _raised(skautodiff.Function(namespace["loss"]), np.zeros(2))
        last = traceback.extract_tb(err.__traceback__)[-1]
        assert (last.filename, last.lineno, last.line) == (str(path), 3, "raise ValueError('here')")
        err = _raised(skautodiff.Function(namespace["refused"]), np.zeros(2))
        assert isinstance(err, skautodiff.TraceError) and (err.filename, err.lineno) == (
            str(path),
            5,
        )


def test_engine_errors_stay_trace_errors_with_a_location():
    def loss(params, X, y):
        return np.sum(np.random.normal(size=3) * params["w"])

    err = _raised(ENTRY_POINTS["value_and_grad"], loss)
    assert isinstance(err, skautodiff.TraceError) and err.lineno == loss.__code__.co_firstlineno + 1


class Result:
    pass


def returns_an_object(w):
    result = Result()
    result.scaled = {"twice": w * 2}
    return np.sum(w), result


def test_an_object_returned_holding_traced_values_is_refused():
    """The compiled function could only give back the object made while tracing, with the values
    of the first call, at every call: refused, naming the object's type and the function."""
    w = np.array([1.0, 2.0])
    f = skautodiff.Function(returns_an_object)
    with pytest.raises(skautodiff.TraceError, match="returned a Result object holding values") as e:
        f(w)
        f(w * 10)  # without the refusal: the first call's object, twice == [2, 4]
    assert e.value.lineno == returns_an_object.__code__.co_firstlineno
    assert e.value.filename == returns_an_object.__code__.co_filename


def test_differentiating_an_argument_that_holds_no_numbers_is_refused():
    """An OrderedDict is data, not a pytree container: its "gradient" was the argument itself
    (and minimize failed with numpy's concatenate error); both now name the argument."""
    import collections

    def loss(params, X):
        return np.sum((X @ params["w"]) ** 2)

    params, X = collections.OrderedDict(w=np.ones(2)), np.eye(2)
    assert skautodiff.Function(loss)(params, X) == pytest.approx(2.0)  # as data it is fine
    with pytest.raises(ValueError, match="differentiate with respect to 'params'.*OrderedDict"):
        skautodiff.value_and_grad(loss, wrt="params")(params, X)
    with pytest.raises(ValueError, match="differentiate with respect to 'x0'.*OrderedDict"):
        skautodiff.minimize(loss, params, args=(X,))


# ---------------------------------------------------------------- in-place writes on arguments


def sort_data(w, y):
    y.sort()
    return np.sum(w * y)


def sort_parameters(w, y):
    w.sort()
    return np.sum(w * y) + np.sum(w[:2] ** 2)


def fill_argument(w, y):
    y.fill(0.5)
    return np.sum(w * y)


def fill_with_a_parameter(w, y):
    y.fill(w[1])
    return np.sum(w * y**2)


def fill_a_local_array(w, y):
    z = np.zeros(3)
    z.fill(w[0])
    return np.sum(z * y)


def multiply_out(w, y):
    np.multiply(y, 2, out=y)
    return np.sum(w * y)


def add_out_parameter(w, y):
    np.add(w, y, out=w)
    return np.sum(w**2)


def add_positional_out(w, y):
    np.add(w, y, w)
    return np.sum(w**3)


def exp_into_local(w, y):
    buffer = np.empty(3)
    result = np.exp(w, out=buffer)
    return np.sum(buffer * y) + np.sum(result)


def sum_into_local(w, y):
    total = np.zeros(())
    np.sum(w * y, out=total)
    return 2.0 * total


def clip_method_out(w, y):
    w.clip(-0.5, 0.5, out=w)
    return np.sum(w * y)


def copyto_argument(w, y):
    np.copyto(y, w * 3)
    return np.sum(w * y)


def copyto_where(w, y):
    np.copyto(y, w, where=np.array([True, False, True]))
    return np.sum(w * y**2)


def put_method(w, y):
    y.put([0, 2, 0], w)  # index 0 twice: w[2] wins, w[0] has no effect
    return np.sum(y * np.array([1.0, 2.0, 3.0]))


def np_put(w, y):
    np.put(w, [1], 5.0)
    return np.sum(w * y)


def put_mixed_signs(w, y):
    y.put([0, -1, 2, -3], w[::-1] ** 2)  # -1 is 2 and -3 is 0: the later writes win
    return np.sum(y * np.array([1.0, 2.0, 3.0]))


def put_input_indices(w, y, idx=np.array([2, 0, 2])):  # noqa: B008 (a default array is an input)
    np.put(y, idx, w)  # the indices are an input of the compiled function
    return np.sum(y * np.array([1.0, 2.0, 3.0]))


def sort_a_slice(w, y):
    y[:2].sort()  # a view made by indexing: the argument's copy follows
    return np.sum(w * y)


def augmented_assignment(w, y):
    y *= w
    return np.sum(y)


IN_PLACE = [
    sort_data,
    sort_parameters,
    fill_argument,
    fill_with_a_parameter,
    fill_a_local_array,
    multiply_out,
    add_out_parameter,
    add_positional_out,
    exp_into_local,
    sum_into_local,
    clip_method_out,
    copyto_argument,
    copyto_where,
    put_method,
    np_put,
    put_mixed_signs,
    put_input_indices,
    sort_a_slice,
    augmented_assignment,
]


def _native_on_copies(fn, *args):
    return fn(*[np.array(a, copy=True) for a in args])


@pytest.mark.parametrize("fn", IN_PLACE, ids=lambda f: f.__name__)
def test_in_place_writes_on_arguments_act_on_a_copy(fn):
    vg = skautodiff.value_and_grad(fn, wrt=(0, 1))
    rng = np.random.default_rng(0)
    for w, y in [
        (np.array([0.3, -1.2, 0.8]), np.array([2.0, 0.4, -1.1])),  # traced, then compiled
        (rng.normal(size=3), rng.normal(size=3)),
    ]:
        before = (w.copy(), y.copy(), w.flags.writeable, y.flags.writeable)
        value, (grad_w, grad_y) = vg(w, y)
        np.testing.assert_allclose(value, _native_on_copies(fn, w, y), rtol=1e-12)
        reference = lambda w, y: _native_on_copies(fn, w, y)
        np.testing.assert_allclose(
            grad_w, finite_difference(reference, (w, y), 0), rtol=1e-6, atol=1e-8
        )
        np.testing.assert_allclose(
            grad_y, finite_difference(reference, (w, y), 1), rtol=1e-6, atol=1e-8
        )
        np.testing.assert_array_equal(w, before[0])
        np.testing.assert_array_equal(y, before[1])
        assert (w.flags.writeable, y.flags.writeable) == before[2:]


def resize_argument(w, y):
    y.resize(2)
    return np.sum(y)


def put_wrapping(w, y):
    np.put(y, [0, 4], w[:2], mode="wrap")
    return np.sum(w * y)


def write_through_a_reshape(w, y):
    v = y.reshape(-1)
    v += 1.0  # numpy changes y too: the graph cannot follow a view that is not an index
    return np.sum(w * y)


def write_through_a_transpose(w, y):
    np.multiply(w, 2.0, out=y.T)
    return np.sum(w * y)


@pytest.mark.parametrize(
    "fn, words",
    [
        (resize_argument, "x = np.concatenate"),
        (put_wrapping, "mode='wrap'"),
        (write_through_a_reshape, "make a copy first"),
        (write_through_a_transpose, "make a copy first"),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_in_place_writes_the_graph_cannot_follow_are_refused_at_the_line(fn, words):
    w, y = np.array([0.3, -1.2, 0.8]), np.array([2.0, 0.4, -1.1])
    before = y.copy()
    with pytest.raises(skautodiff.TraceError) as info:
        skautodiff.value_and_grad(fn)(w, y)
    err = info.value
    source = [line.strip() for line in open(__file__)][err.lineno - 1]
    assert err.filename == __file__ and err.source == source and words in str(err)
    assert fn.__code__.co_firstlineno < err.lineno <= fn.__code__.co_firstlineno + 2
    np.testing.assert_array_equal(y, before)


def several_in_place_writes(w, y):
    y.sort()
    y.put([0, 2, 0], w)
    np.multiply(w, y, out=y)
    np.copyto(w, y[::-1], where=np.array([True, False, True]))
    return np.sum(w**2) + np.sum(y)


@pytest.mark.cbackend
def test_in_place_writes_on_the_c_backend():
    test_in_place_writes_on_arguments_act_on_a_copy(several_in_place_writes)
