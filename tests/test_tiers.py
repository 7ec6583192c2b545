"""Tiered compilation (skautodiff/tiers.py): functions run on PyTensor's Python linker at once and
switch to C when its background compile is done; both tiers give the same numbers.

The Python tier is also the test suite's fast mode, so the recurrence check runs there; the tiers
themselves run on the C backend (marked cbackend, few: each C compile costs seconds).
"""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import skautodiff
from skautodiff import compile as compiled, tiers

ROOT = Path(__file__).resolve().parents[1]


def recurrence(w, X):
    x = 0.0
    for _ in range(30):
        x = np.tanh(w + 0.5 * x)
    return np.mean(X @ x)


def recurrence_gradient(w, X):
    """By hand: x_k = tanh(w + x_{k-1}/2), so dx_k/dw = (1 - x_k^2) (1 + dx_{k-1}/dw / 2)."""
    x, dx = np.zeros_like(w), np.zeros_like(w)
    for _ in range(30):
        x = np.tanh(w + 0.5 * x)
        dx = (1 - x**2) * (1 + 0.5 * dx)
    return X.mean(axis=0) * dx


def test_a_30_step_recurrence_runs_on_the_python_tier():
    # its gradient is one sum of more than 32 terms: numpy ufuncs take at most 32 operands
    rng = np.random.default_rng(0)
    w, X = rng.normal(size=5), rng.normal(size=(7, 5))
    value, grad = skautodiff.value_and_grad(recurrence, wrt="w")(w, X)
    assert np.isclose(value, recurrence(w, X), rtol=1e-13)
    np.testing.assert_allclose(grad, recurrence_gradient(w, X), rtol=1e-12)
    v = rng.normal(size=5)
    hvp = skautodiff.HessianVector(recurrence, wrt="w")(w, X, vectors=v)
    eps = 1e-6
    fd = (recurrence_gradient(w + eps * v, X) - recurrence_gradient(w - eps * v, X)) / (2 * eps)
    np.testing.assert_allclose(hvp, fd, rtol=1e-6, atol=1e-9)


def test_the_python_tier_splits_sums_wider_than_numpy_allows():
    x = pt.vector("x")
    terms = [pt.exp(x * k) if k % 2 else pt.sin(x * k) for k in range(1, 41)]
    fn = pytensor.function([x], pt.add(*terms), mode=compiled.mode("Python"))
    widest = max(len(node.inputs) for node in fn.maker.fgraph.apply_nodes)
    assert 2 <= widest <= 31
    value = np.linspace(-1, 1, 6)
    want = sum(np.exp(value * k) if k % 2 else np.sin(value * k) for k in range(1, 41))
    np.testing.assert_allclose(fn(value), want, rtol=1e-13)


def test_tiering_is_the_c_backends_default_and_can_be_turned_off(monkeypatch):
    monkeypatch.setattr(pytensor.config, "cxx", "g++")
    monkeypatch.setenv("SKAUTODIFF_MODE", "c")
    monkeypatch.delenv("SKAUTODIFF_TIERS", raising=False)
    assert tiers.enabled()
    for off in ("0", "off"):
        monkeypatch.setenv("SKAUTODIFF_TIERS", off)
        assert not tiers.enabled()
    monkeypatch.setenv("SKAUTODIFF_TIERS", "1")
    monkeypatch.setenv("SKAUTODIFF_MODE", "fast")  # the Python tier alone
    assert not tiers.enabled()
    monkeypatch.setenv("SKAUTODIFF_MODE", "c")
    monkeypatch.setattr(pytensor.config, "cxx", "")  # nothing to compile C with
    assert not tiers.enabled()


def logistic(params, X, y):
    z = X @ params["w"] + params["b"]
    return np.mean(np.logaddexp(0, z) - y * z) + 1e-2 * np.sum(params["w"] ** 2)


def mlp(params, X, y):
    H = np.tanh(X @ params["W1"] + params["b1"])
    logits = H @ params["W2"]
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), y])


def _problem(name, dtype):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 4)).astype(dtype)
    if name == "logistic":
        params = {"w": rng.normal(size=4).astype(dtype), "b": np.asarray(0.3, dtype)}
        return logistic, params, X, (X[:, 0] > 0).astype(dtype)
    params = {
        "W1": rng.normal(size=(4, 6)).astype(dtype),
        "b1": rng.normal(size=6).astype(dtype),
        "W2": rng.normal(size=(6, 3)).astype(dtype),
    }
    return mlp, params, X, rng.integers(0, 3, size=40)


def _tiered(fn, kind):
    ((entry,),) = [entries for key, entries in compiled._cache.items() if key[0] is fn.__code__]
    return entry.function(kind)


@pytest.mark.cbackend
@pytest.mark.parametrize(
    "name,dtype", [("logistic", np.float64), ("mlp", np.float64), ("mlp", np.float32)]
)
def test_both_tiers_give_the_same_values_gradients_and_hessian_vector_products(
    monkeypatch, name, dtype
):
    monkeypatch.setenv("SKAUTODIFF_TIERS", "1")
    compiled.clear_cache()
    fn, params, X, y = _problem(name, dtype)
    vectors = {k: np.full_like(v, 0.5) for k, v in params.items()}
    vg = skautodiff.value_and_grad(fn, wrt="params")
    hv = skautodiff.HessianVector(fn, wrt="params")

    def run():
        value, grad = vg(params, X, y)
        return [value, *grad.values(), *hv(params, X, y, vectors=vectors).values()]

    first = run()
    assert all(_tiered(fn, kind).calls["Python"] == 1 for kind in ("value_and_grad", "hvp"))
    assert tiers.wait(timeout=300)
    assert [_tiered(fn, kind).tier for kind in ("value_and_grad", "hvp")] == ["C", "C"]
    second = run()
    assert all(_tiered(fn, kind).calls["C"] == 1 for kind in ("value_and_grad", "hvp"))
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    for a, b in zip(first, second):
        assert np.asarray(a).dtype == np.asarray(b).dtype == dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2)
    assert np.isclose(first[0], fn(params, X, y), rtol=rtol)  # and numpy's own value
    assert compiled.cache_info().compiles == 2  # one per kind, whatever the tiers


COLD_FIT = '''
    import logging, sys, time
    import numpy as np
    from skautodiff import AutodiffClassifier, tiers

    def loss(params, X, y):
        z = X @ params["w"] + params["b"]
        return np.mean(np.logaddexp(0, z) - y * z) + 1e-3 * np.sum(params["w"] ** 2)

    def init(X, y, rng):
        return {"w": np.zeros(X.shape[1]), "b": 0.0}

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X @ np.arange(5.0) + rng.normal(size=200) > 0).astype(int)
    start = time.perf_counter()
    model = AutodiffClassifier(loss=loss, init_params=init, verbose=1).fit(X, y)
    print("FIT", time.perf_counter() - start)
    np.save("w.npy", np.r_[model.params_["w"], model.params_["b"]])
    if sys.argv[1] == "wait":
        logging.getLogger("skautodiff").addHandler(logging.StreamHandler(sys.stdout))
        logging.getLogger("skautodiff").setLevel(logging.INFO)
        assert tiers.wait(timeout=120)
        model.fit(X, y)
'''


@pytest.mark.cbackend
def test_a_cold_first_fit_runs_at_once_and_exits_leaving_a_complete_cache(tmp_path):
    """The first process exits right after a short fit; the compile it started finishes first, so
    the second process finds every C module in the cache and compiles nothing."""
    (tmp_path / "fit.py").write_text(textwrap.dedent(COLD_FIT))
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        SKAUTODIFF_MODE="c",
        SKAUTODIFF_TIERS="1",
        PYTENSOR_FLAGS=f"base_compiledir={tmp_path / 'cache'}",
    )

    def fit(how):
        done = subprocess.run(
            [sys.executable, "fit.py", how],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout, np.load(tmp_path / "w.npy")

    def modules():
        return {
            p.parent.name: sorted(f.name for f in p.parent.iterdir())
            for p in (tmp_path / "cache").rglob("mod.c*")
        }

    out, cold = fit("exit")
    assert "runs on the Python tier" in out, out
    assert "ran on the Python tier only" in out, (
        out
    )  # the C tier was still compiling when the fit ended
    built = modules()
    # no compiler left running on that cache (g++'s command line names the module's directory)
    assert (
        subprocess.run(["pgrep", "-f", str(tmp_path / "cache")], capture_output=True).returncode
        == 1
    )
    assert len(built) >= 3  # PyTensor's C loop, cutils, the function's modules
    for name, files in built.items():  # each complete (the cache's own entries have a key.pkl)
        assert any(f.endswith(".so") for f in files) and (
            "key.pkl" in files or name.endswith("_ext")
        ), built

    out, warm = fit("wait")
    assert "switched to the C tier" in out, out
    assert modules() == built  # nothing compiled again
    np.testing.assert_allclose(warm, cold, rtol=1e-12)
    # the optimum, checked against scipy's BFGS on the objective written in numpy
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X @ np.arange(5.0) + rng.normal(size=200) > 0).astype(float)

    def objective(p):
        z = X @ p[:5] + p[5]
        return np.mean(np.logaddexp(0, z) - y * z) + 1e-3 * np.sum(p[:5] ** 2)

    reference = minimize(objective, np.zeros(6), method="BFGS", options={"gtol": 1e-10}).x
    assert objective(cold) <= objective(reference) + 1e-8


def hinge_squared(w, X, y, alpha=0.1):
    margin = np.maximum(0, 1 - y * (X @ w))
    return np.mean(margin**2) + alpha * np.sum(np.tanh(w) ** 2)


@pytest.mark.cbackend
def test_threads_calling_through_the_switch_each_get_one_tiers_exact_result(monkeypatch):
    """A call runs wholly on the tier it started on: every threaded result equals, bit for bit,
    a serial call's on the Python tier or on the C tier."""
    import threading
    from test_threads import assert_identical, dataset

    monkeypatch.setenv("SKAUTODIFF_TIERS", "1")
    compiled.clear_cache()
    vg = skautodiff.value_and_grad(hinge_squared, wrt="w")
    problems = [dataset(rows, seed) for seed, rows in enumerate([5, 17, 40, 64])]
    on_python = [vg(*p) for p in problems]
    tiered = _tiered(hinge_squared, "value_and_grad")
    assert tiered.calls["C"] == 0
    results, stop = [], threading.Event()

    def call_until_switched(i):
        while not stop.is_set():
            results.append((i % len(problems), vg(*problems[i % len(problems)])))
            i += 1

    threads = [threading.Thread(target=call_until_switched, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    assert tiers.wait(timeout=300)
    count, deadline = len(results), time.monotonic() + 60
    while (
        len(results) < count + 40 and time.monotonic() < deadline
    ):  # some calls after the switch too
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    on_c = [vg(*p) for p in problems]
    for (value, grad), (w, X, y) in zip(on_c, problems):  # the C tier is right
        np.testing.assert_allclose(value, hinge_squared(w, X, y), rtol=1e-13)
        margin = np.maximum(0, 1 - y * (X @ w))
        want = -2 * X.T @ (margin * y) / len(y) + 0.2 * np.tanh(w) * (1 - np.tanh(w) ** 2)
        np.testing.assert_allclose(grad, want, rtol=1e-12)
    seen = set()
    for i, got in results:
        try:
            assert_identical(got, on_python[i])
            seen.add("Python")
        except AssertionError:
            assert_identical(got, on_c[i])
            seen.add("C")
    assert tiered.calls["Python"] > len(problems) and tiered.calls["C"] > 0
    assert "C" in seen


class _FakeTier:
    """A compiled function stand-in: counts its calls (no PyTensor, no C compile)."""

    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self, *values):
        self.calls += 1
        return self.value

    def free(self):
        pass


def test_a_worker_process_compiles_c_only_once_a_function_is_hot(monkeypatch):
    """GridSearchCV's loky workers run many short fits: there the C compile waits until the
    function has spent WORKER_HOT_SECONDS on the Python tier, then switches as usual."""
    monkeypatch.setattr(tiers, "in_worker_process", lambda: True)
    monkeypatch.setattr(tiers, "WORKER_HOT_SECONDS", 0.05)
    compiles = []

    def compile_c():
        compiles.append(1)
        return _FakeTier("C")

    def slow_python(*values):
        time.sleep(0.02)
        return "Python"

    slow_python.free = lambda: None
    tiered = tiers.Tiered(slow_python, compile_c, "value of f")
    assert tiered("x") == "Python"
    assert not compiles and "value of f" not in tiers.pending()  # not submitted: not hot yet
    while not compiles and tiered.calls["Python"] < 100:
        tiered("x")
    assert tiers.wait(timeout=60) and tiered.ready.is_set()
    assert compiles == [1] and tiered("x") == "C"  # compiled once, then used
    assert 3 <= tiered.calls["Python"] < 100


def test_a_worker_process_does_not_wait_at_exit_for_its_compiles(monkeypatch):
    """The exit wait (which keeps the next process warm) is the parent's: a worker dropping a
    compile at exit leaves it to a later process instead of holding up joblib's shutdown."""
    import threading

    monkeypatch.setattr(tiers, "in_worker_process", lambda: True)
    release = threading.Event()
    worker = tiers._Worker()

    class Blocked:
        label = "value of g"
        ready = threading.Event()

        def _switch(self):
            release.wait(60)

    worker.submit(Blocked())
    while worker.pending() != ["value of g"]:
        time.sleep(0.01)
    worker.close()  # returns at once although the compile still runs
    assert worker.pending() == ["value of g"] and worker._closing
    release.set()


def test_worker_processes_are_recognised():
    """joblib's loky workers (and multiprocessing's) report a parent process; this one does not."""
    from joblib import Parallel, delayed

    assert tiers.in_worker_process() is False
    assert Parallel(n_jobs=2)(delayed(tiers.in_worker_process)() for _ in range(2)) == [True, True]


def test_verbose_says_which_tier_ran_and_when_it_switched(monkeypatch, capsys):
    """minimize(verbose=1) (and so the estimators, which call it) prints the switch and, per
    compiled function, how many calls ran on each tier."""
    from skautodiff.optimize import compile_messages

    monkeypatch.setattr(tiers, "in_worker_process", lambda: False)
    release = __import__("threading").Event()

    def compile_c():
        release.wait(60)
        return _FakeTier("C")

    with compile_messages(1):
        tiered = tiers.Tiered(_FakeTier("Python"), compile_c, "value and grad of h")
        tiered()
        tiered()
    out = capsys.readouterr().out
    assert (
        "value and grad of h ran on the Python tier only (2 calls); its C tier is still compiling"
        in out
    )
    release.set()
    assert tiers.wait(timeout=60)
    with compile_messages(1):
        tiered()
    out = capsys.readouterr().out
    assert "value and grad of h ran 0 call(s) on the Python tier, then 1 on the C tier" in out
    with compile_messages(0):
        tiered()
    assert capsys.readouterr().out == ""


def test_modules_built_since_counts_the_new_module_directories(tmp_path):
    """The demo's "C modules compiled in this process": module directories (one .so each) written
    since a time; older modules, other files and the lock directory do not count."""
    from skautodiff.compiledir import modules_built_since

    for name, file in [
        ("tmpabc", "m1.so"),
        ("lazylinker_ext", "lazylinker_ext.so"),
        ("old", "m2.so"),
        ("lock_dir", "lock"),
        ("tmpdef", "mod.cpp"),
    ]:
        (tmp_path / name).mkdir()
        (tmp_path / name / file).write_text("")
    os.utime(tmp_path / "old" / "m2.so", (1_000_000, 1_000_000))
    assert modules_built_since(time.time() - 3600, tmp_path) == 2
    assert modules_built_since(0, tmp_path) == 3
    assert modules_built_since(time.time() + 3600, tmp_path) == 0


def test_minimize_verbose_prints_what_is_traced_and_compiled(capsys):
    def quadratic_for_verbose(w, target):
        return np.sum((w - target) ** 2)

    target = np.array([1.0, -2.0, 3.0])
    result = skautodiff.minimize(quadratic_for_verbose, np.zeros(3), args=(target,), verbose=1)
    np.testing.assert_allclose(result.x, target, atol=1e-6)  # the minimum, by hand
    out = capsys.readouterr().out
    assert "traced " in out and "quadratic_for_verbose in" in out and "value and grad of " in out, (
        out
    )
    skautodiff.minimize(quadratic_for_verbose, np.zeros(3), args=(target,))
    assert capsys.readouterr().out == ""  # verbose=0: silent


def _fake_tiered(label, compiles, seconds_per_call=0.0):
    def compile_c():
        compiles.append(label)
        return _FakeTier("C")

    def python_tier(*values):
        time.sleep(seconds_per_call)
        return "Python"

    python_tier.free = lambda: None
    return tiers.Tiered(python_tier, compile_c, label)


def test_a_function_built_during_a_fit_compiles_c_when_the_fit_ends(monkeypatch):
    """A short fit is not slowed by its own function's C compile (about 1-2 s of Python work
    even with a warm compile cache): it starts once the fit is over."""
    monkeypatch.setattr(tiers, "in_worker_process", lambda: False)
    compiles = []
    with tiers.c_after_the_fit():
        tiered = _fake_tiered("value of short", compiles)
        for _ in range(5):
            assert tiered("x") == "Python"
        assert "value of short" not in tiers.pending() and not compiles
    assert tiers.wait(timeout=60) and compiles == ["value of short"]
    assert tiered("x") == "C"
    # outside a fit (the functional API) the compile starts at once, as before
    outside = _fake_tiered("value of outside", compiles)
    assert tiers.wait(timeout=60) and compiles[-1] == "value of outside"
    assert outside("x") == "C" and outside.calls == {"Python": 0, "C": 1}


def test_a_long_fit_switches_to_c_once_its_function_is_hot(monkeypatch):
    monkeypatch.setattr(tiers, "in_worker_process", lambda: False)
    monkeypatch.setattr(tiers, "HOT_SECONDS", 0.1)
    compiles = []
    with tiers.c_after_the_fit():
        tiered = _fake_tiered("value of long", compiles, seconds_per_call=0.02)
        assert tiered("x") == "Python" and "value of long" not in tiers.pending()  # not hot yet
        while tiered("x") == "Python" and tiered.calls["Python"] < 200:
            tiers.wait(timeout=0.01)
        assert compiles == ["value of long"] and 2 <= tiered.calls["Python"] < 200
        assert tiered.calls["C"] == 1  # the fit itself switched


def test_a_worker_process_waits_for_hot_even_when_the_fit_ends(monkeypatch):
    monkeypatch.setattr(tiers, "in_worker_process", lambda: True)
    compiles = []
    with tiers.c_after_the_fit():
        tiered = _fake_tiered("value of searched", compiles)
        tiered("x")
    assert tiers.wait(timeout=60) and not compiles and tiered.tier == "Python"


def test_minimize_builds_its_functions_inside_a_fit():
    """The loss is traced (and its functions built) while minimize's fit block is open, on the
    calling thread: what makes a fit's C compile wait for the fit's end."""
    seen = []

    def loss(w):
        seen.append(getattr(tiers._fitting, "built", None) is not None)
        return np.sum((w - 1.0) ** 2)

    result = skautodiff.minimize(loss, np.zeros(3))
    np.testing.assert_allclose(result.x, np.ones(3), atol=1e-6)
    assert seen and all(seen)
    assert getattr(tiers._fitting, "built", None) is None  # closed again
