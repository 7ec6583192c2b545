"""PyTensor's compile directory: unusable or damaged, skautodiff still imports, predicts and fits.

Each check runs in a subprocess with its own PYTENSOR_FLAGS (PyTensor reads them once, at import),
so the user's real compile cache is never touched.
"""

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

MODEL = '''
import numpy as np
from skautodiff import AutodiffRegressor

def loss(params, X, y):
    return np.mean((X @ params["w"] + params["b"] - y) ** 2)

def init(X, y, rng):
    return {"w": np.zeros(X.shape[1]), "b": 0.0}

def predict(params, X):
    return X @ params["w"] + params["b"]

def make():
    return AutodiffRegressor(loss=loss, init_params=init, predict_fn=predict, tol=1e-12)
'''

RNG = np.random.default_rng(3)
X = RNG.normal(size=(30, 2))
Y = X @ np.array([1.5, -0.5]) + 2.0 + 0.1 * RNG.normal(size=30)


def run(script, tmp_path, flags, mode="c"):
    """Run a script in a fresh interpreter; (stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}", SKAUTODIFF_MODE=mode)
    env["PYTENSOR_FLAGS"] = flags
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def least_squares():
    design = np.column_stack([X, np.ones(len(X))])
    return np.linalg.lstsq(design, Y, rcond=None)[0]


@pytest.mark.parametrize("flag", ["base_compiledir", "compiledir"])
def test_unusable_compile_directory(flag, tmp_path):
    # A file where a directory is expected: unusable for any user, root included (root ignores
    # permission bits). PyTensor checks an explicit `compiledir` at import, `base_compiledir` later.
    (tmp_path / "model.py").write_text(MODEL)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    unusable = blocker / "cache"
    sys.path.insert(0, str(tmp_path))
    try:  # a model fitted where the cache works, pickled
        import model

        est = model.make().fit(X, Y)
        (tmp_path / "est.pkl").write_bytes(pickle.dumps(est))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("model", None)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Y.npy", Y)
    out, err = run(
        '''
        import os, pickle, numpy as np
        import skautodiff, model
        X, Y = np.load("X.npy"), np.load("Y.npy")
        est = pickle.loads(open("est.pkl", "rb").read())
        np.save("predicted.npy", est.predict(X))
        f = skautodiff.value_and_grad(lambda w: np.sum(np.sin(w) * w), wrt="w")
        value, grad = f(np.array([0.5, 2.0]))
        np.save("value_grad.npy", np.r_[value, grad])
        refit = model.make().fit(X, Y)
        np.save("refit.npy", np.r_[refit.params_["w"], refit.params_["b"]])
        import pytensor
        print(os.environ["PYTENSOR_FLAGS"])
        print(pytensor.config.compiledir if os.environ["PYTENSOR_FLAGS"].startswith("compiledir=") else "")
    ''',
        tmp_path,
        f"{flag}={unusable}",
    )
    flags, scratch = out.split("\n")[:2]
    assert flags == f"{flag}={unusable}"  # subprocesses see the user's own flags
    if flag == "compiledir":  # PyTensor imported with an empty stand-in directory, removed at exit
        assert scratch != str(unusable) and not Path(scratch).exists()
    # prediction runs the user's numpy code: exactly as in the process that fitted
    np.testing.assert_array_equal(np.load(tmp_path / "predicted.npy"), est.predict(X))
    w = np.array([0.5, 2.0])
    np.testing.assert_allclose(
        np.load(tmp_path / "value_grad.npy"),
        np.r_[np.sum(np.sin(w) * w), np.cos(w) * w + np.sin(w)],
        rtol=1e-12,
    )
    np.testing.assert_allclose(np.load(tmp_path / "refit.npy"), least_squares(), rtol=1e-6)
    # one warning for the whole process, naming the directory and how to choose another
    assert (
        err.count("RuntimeWarning: skautodiff: PyTensor's compile directory cannot be used") == 1
    ), err
    assert str(unusable) in err and "PYTENSOR_FLAGS=base_compiledir=" in err, err


@pytest.mark.cbackend
def test_damaged_modules_are_recompiled(tmp_path):
    script = '''
        import numpy as np, skautodiff, skautodiff.compile
        w = np.array([0.5, -1.0, 2.0])
        value, grad = skautodiff.value_and_grad(lambda w: np.sum(np.exp(w) * w), wrt="w")(w)
        np.save("result.npy", np.r_[value, grad])
        (entry,), = skautodiff.compile._cache.values()
        (fn, *_) = entry.function("value_and_grad")   # the compiled function (tiering is off)
        print(type(fn.vm).__name__)   # CVM: PyTensor's C loop
    '''
    flags = f"base_compiledir={tmp_path / 'cache'}"
    out, _ = run(script, tmp_path, flags)
    assert out.split() == ["CVM"]
    first = np.load(tmp_path / "result.npy")
    w = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(first, np.r_[np.sum(np.exp(w) * w), np.exp(w) * (w + 1)], rtol=1e-12)

    modules = sorted((tmp_path / "cache").rglob("*.so"))
    assert len(modules) >= 3  # PyTensor's C loop (lazylinker_ext), cutils_ext, this function's
    for module in modules:  # what a full disk or a killed compile leaves
        with open(module, "r+b") as f:
            f.truncate(16)
    out, err = run(script, tmp_path, flags)
    assert out.split() == ["CVM"], err
    np.testing.assert_array_equal(np.load(tmp_path / "result.npy"), first)
    for module in modules:
        if module.parent.name != "cutils_ext":  # PyTensor rebuilds that one by itself
            assert f"compiled module {module} is damaged (file too short)" in err, err

    out, err = run(script, tmp_path, flags)  # healed for good: later runs load the new modules
    assert out.split() == ["CVM"] and "damaged" not in err, err
    np.testing.assert_array_equal(np.load(tmp_path / "result.npy"), first)
