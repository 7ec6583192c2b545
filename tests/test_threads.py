"""Compiled functions shared by threads: every result equals a serial run's, bit for bit.

The serial results are computed first, by the same compiled functions, one call at a time, and
checked against plain numpy (values) or finite differences (gradients); the threaded results must
then equal them exactly. Calls from different threads start together (a barrier), so they overlap.
"""

import concurrent.futures
import functools
import threading

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from sklearn.model_selection import GridSearchCV

import skautodiff
from helpers import finite_difference
from skautodiff import AutodiffRegressor


def logistic(w, X, y, alpha=0.1):
    z = X @ w
    return np.mean(np.logaddexp(0, -y * z)) + alpha * np.sum(np.tanh(w) ** 2)


def dataset(rows, seed, features=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    y = np.sign(X @ np.arange(1.0, features + 1) + rng.normal(size=rows))
    return rng.normal(size=features), X, y


def in_threads(tasks, threads):
    """Run the callables `tasks` on `threads` threads, all starting at once; their results in order."""
    barrier = threading.Barrier(threads, timeout=60)  # a failed start must not hang the suite

    def first(task):
        barrier.wait()
        return task()

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        futures = [
            pool.submit(first, task) if i < threads else pool.submit(task)
            for i, task in enumerate(tasks)
        ]
        return [f.result() for f in futures]


def assert_identical(got, expected):
    """Equal bit for bit (same dtype, same shape, same values), through tuples and lists."""
    if isinstance(expected, (tuple, list)):
        assert type(got) is type(expected) and len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_identical(g, e)
        return
    assert type(got) is type(expected), (type(got), type(expected))
    assert np.asarray(got).dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(got, expected, strict=True)


def check_value_and_grad_from_threads(threads=6, calls=40):
    vg = skautodiff.value_and_grad(logistic, wrt="w")
    problems = [dataset(rows, seed) for seed, rows in enumerate([5, 17, 40, 3, 64, 9])]
    serial = [vg(*p) for p in problems]
    for (value, grad), (w, X, y) in zip(serial, problems):  # the serial results are right
        np.testing.assert_allclose(value, logistic(w, X, y), rtol=1e-13)
        np.testing.assert_allclose(
            grad, finite_difference(logistic, (w, X, y), 0), rtol=1e-6, atol=1e-8
        )
    order = [i % len(problems) for i in range(threads * calls)]
    tasks = [lambda i=i: vg(*problems[i]) for i in order]
    free = vg.free  # releases the buffers of idle copies only
    tasks[5::9] = [free] * len(tasks[5::9])
    results = in_threads(tasks, threads)
    for i, task, got in zip(order, tasks, results):
        if task is not free:
            assert_identical(got, serial[i])


def test_value_and_grad_from_many_threads_equals_serial():
    check_value_and_grad_from_threads()


@pytest.mark.cbackend
def test_value_and_grad_from_many_threads_equals_serial_on_the_c_backend():
    check_value_and_grad_from_threads()


def minimize_logistic(problem):
    w0, X, y = problem
    result = skautodiff.minimize(logistic, np.zeros_like(w0), args=(X, y))
    return result.x, result.fun, result.nit


@pytest.mark.cbackend
def test_the_same_loss_fitted_in_two_threads_at_once():
    # one thread's minimize used to free the buffers the other's compiled calls were using
    problems = [dataset(rows, seed) for seed, rows in enumerate([30, 45])]
    serial = [minimize_logistic(p) for p in problems]
    for (x, _, _), (_, X, y) in zip(serial, problems):  # each serial fit reached a minimum
        assert np.max(np.abs(finite_difference(logistic, (x, X, y), 0))) < 1e-4
    order = [0, 1] * 4
    results = in_threads([lambda i=i: minimize_logistic(problems[i]) for i in order], 2)
    for i, got in zip(order, results):
        assert_identical(got, serial[i])


def ridge(params, X, y, alpha=1.0):
    residual = X @ params["w"] + params["b"] - y
    return np.mean(residual**2) + alpha * np.sum(params["w"] ** 2)


def linear(params, X):
    return X @ params["w"] + params["b"]


def ridge_regressor(**kwargs):
    return AutodiffRegressor(
        loss=ridge,
        predict_fn=linear,
        init_params=lambda X, y, rng: {"w": np.zeros(X.shape[1]), "b": 0.0},
        **kwargs,
    )


def test_grid_search_with_threads_equals_grid_search_without():
    import joblib

    rng = np.random.default_rng(11)
    X = rng.normal(size=(60, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.3 * rng.normal(size=60)
    grid = {"loss_kwargs": [{"alpha": a} for a in (0.0, 0.01, 0.1, 1.0, 10.0)]}
    serial = GridSearchCV(ridge_regressor(), grid, cv=3, n_jobs=1).fit(X, y)
    with joblib.parallel_config("threading"):
        threaded = GridSearchCV(ridge_regressor(), grid, cv=3, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(
        threaded.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert threaded.best_params_ == serial.best_params_
    # the serial search is right: its best refit is ridge regression's closed form
    alpha = serial.best_params_["loss_kwargs"]["alpha"]
    A = np.column_stack([X, np.ones(len(X))])
    penalty = np.diag([alpha * len(X)] * 4 + [0.0])
    exact = np.linalg.solve(A.T @ A + penalty, A.T @ y)
    np.testing.assert_allclose(serial.best_estimator_.params_["w"], exact[:4], atol=1e-5)


def test_threads_asking_for_a_missing_entry_trace_and_compile_it_once():
    def loss(w, X):  # a code object of its own: nothing of it is cached yet
        return np.sum(np.sin(X @ w) ** 2)

    vg = skautodiff.value_and_grad(loss, wrt="w")
    w, X = np.ones(3), np.arange(12.0).reshape(4, 3) / 10
    before = skautodiff.cache_info()
    results = in_threads([lambda: vg(w, X)] * 8, 8)
    after = skautodiff.cache_info()
    assert (after.traces - before.traces, after.compiles - before.compiles) == (1, 1)
    np.testing.assert_allclose(results[0][0], loss(w, X), rtol=1e-13)
    for got in results[1:]:
        assert_identical(got, results[0])


class FakeBlas:
    """What threadpoolctl's controller of scipy's OpenBLAS offers. (The real library cannot be
    used to test this: OpenBLAS 0.3.30 ignores a count set from one thread while another thread
    that set one is alive.)"""

    filepath = "/site-packages/scipy.libs/libscipy_openblas-0.so"

    def __init__(self, num_threads):
        self.num_threads, self.changes = num_threads, 0

    def set_num_threads(self, n):
        self.num_threads, self.changes = n, self.changes + 1


def test_overlapping_fits_restore_scipys_blas_threads_once(monkeypatch):
    from types import SimpleNamespace

    from skautodiff import optimize

    blas = FakeBlas(3)  # a setting of the user's, which fits must give back
    monkeypatch.setattr(optimize, "_controller", SimpleNamespace(lib_controllers=[blas]))
    entered, leave, left = ([threading.Event(), threading.Event()] for _ in range(3))

    def fit(i):
        with optimize.scipy_blas_single_thread():
            entered[i].set()
            leave[i].wait(10)
        left[i].set()

    threads = [threading.Thread(target=fit, args=(i,)) for i in (0, 1)]
    try:
        threads[0].start()
        entered[0].wait(10)
        threads[1].start()  # starts while the first is fitting ...
        entered[1].wait(10)
        assert blas.num_threads == 1
        leave[0].set()  # ... and ends after it
        left[0].wait(10)
        assert blas.num_threads == 1
        leave[1].set()
        left[1].wait(10)
        assert (blas.num_threads, blas.changes) == (3, 2)  # limited once, restored once
    finally:
        for event in leave:
            event.set()
        for t in threads:
            t.join()


def predict(w, X):
    return np.tanh(X @ w)


def fit_predict(X, y):
    model = ridge_regressor().fit(X, y)
    return model.params_["w"], model.params_["b"], model.predict(X)


def test_stress_many_threads_mixed_functions_shapes_fits_and_frees():
    f = skautodiff.Function(predict)
    vg = skautodiff.value_and_grad(logistic, wrt="w")
    hv = skautodiff.HessianVector(logistic, wrt="w")
    v = np.random.default_rng(12).normal(size=3)
    kinds = {
        "function": lambda w, X, y: f(w, X),
        "value_and_grad": vg,
        "hessian_vector": lambda w, X, y: hv(w, X, y, vectors=v),
        "minimize": lambda *problem: minimize_logistic(problem),
        "estimator": lambda w, X, y: fit_predict(X, y),
    }
    problems = [dataset(rows, seed) for seed, rows in enumerate([1, 4, 11, 30])]
    tasks = {
        (kind, i): functools.partial(fn, *problem)
        for kind, fn in kinds.items()
        for i, problem in enumerate(problems)
    }
    serial = {key: task() for key, task in tasks.items()}
    for i, (w, X, y) in enumerate(problems):  # the serial results are right
        np.testing.assert_allclose(serial["function", i], predict(w, X), rtol=1e-13)
        value, grad = serial["value_and_grad", i]
        np.testing.assert_allclose(value, logistic(w, X, y), rtol=1e-13)
        np.testing.assert_allclose(
            grad, finite_difference(logistic, (w, X, y), 0), rtol=1e-6, atol=1e-8
        )
        eps = 1e-6
        hessian_v = (vg(w + eps * v, X, y)[1] - vg(w - eps * v, X, y)[1]) / (2 * eps)
        np.testing.assert_allclose(serial["hessian_vector", i], hessian_v, rtol=1e-5, atol=1e-7)
        x = serial["minimize", i][0]
        assert np.max(np.abs(finite_difference(logistic, (x, X, y), 0))) < 1e-4
        coef, intercept, predicted = serial["estimator", i]
        np.testing.assert_array_equal(predicted, linear({"w": coef, "b": intercept}, X))
    schedule = list(tasks) * 3 + [("free", fn) for fn in (f, vg, hv)] * 8
    np.random.default_rng(13).shuffle(schedule)
    jobs = [
        (lambda fn=fn: fn.free()) if kind == "free" else tasks[kind, fn] for kind, fn in schedule
    ]
    results = in_threads(jobs, 8)
    for (kind, i), got in zip(schedule, results):
        if kind != "free":
            assert_identical(got, serial[kind, i])


class MeetTheOtherCall(Op):
    """x * 2, once the other thread's call has reached this same point (or a 10 s timeout)."""

    __props__ = ()
    barrier = threading.Barrier(2, timeout=10)

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        self.barrier.wait()
        output_storage[0][0] = inputs[0] * 2


def test_calls_of_one_compiled_function_run_at_the_same_time():
    # Independent of the machine's load: were calls serialised, the first would wait at the
    # barrier for a second that cannot start (BrokenBarrierError after the timeout).
    from skautodiff.compile import Copies, mode

    x = pt.dvector("x")
    copies = Copies(pytensor.function([x], MeetTheOtherCall()(x), mode=mode()))
    first, second = in_threads([lambda: copies(np.ones(2)), lambda: copies(np.arange(3.0))], 2)
    np.testing.assert_array_equal(first, [2.0, 2.0])
    np.testing.assert_array_equal(second, [0.0, 2.0, 4.0])
    assert len(list(copies)) == 2  # one copy per call that overlapped, kept for later calls
