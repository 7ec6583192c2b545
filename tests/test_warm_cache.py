"""`python -m skautodiff.warm_cache` fills a compile directory that later processes use as it is."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

USER_MODEL = '''
import numpy as np
from skautodiff import AutodiffRegressor

def loss(params, X, y):
    return np.mean((X @ params["w"] - y) ** 2)

def init_params(X, y, rng):
    return {"w": np.zeros(X.shape[1])}

def predict(params, X):
    return X @ params["w"]

def example():
    X = np.random.default_rng(0).normal(size=(8, 2))
    return AutodiffRegressor(loss=loss, init_params=init_params, predict_fn=predict), X, X @ [1.0, 2.0]
'''

USE = '''
import numpy as np
from skautodiff import models
import user_model
rng = np.random.default_rng(5)
X = rng.normal(size=(500, 3))
y = X @ np.array([1.0, 2.0, 3.0]) + 4.0
print(*np.r_[models.Ridge(alpha=0.0).fit(X, y).params_["w"], models.Ridge(alpha=0.0).fit(X, y).params_["b"]])
est, X2, y2 = user_model.example()
X2 = np.random.default_rng(1).normal(size=(300, 2))    # more rows: the same compiled module
print(*est.fit(X2, X2 @ [1.0, 2.0]).params_["w"])
'''


def _run(args, tmp_path, compile_dir):
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}", SKAUTODIFF_TIERS="0")
    env.pop("SKAUTODIFF_MODE", None)
    env["PYTENSOR_FLAGS"] = f"base_compiledir={compile_dir}"
    done = subprocess.run(
        [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _modules(compile_dir):
    return {p.parent for p in Path(compile_dir).rglob("*.so")}


@pytest.mark.cbackend
@pytest.mark.slow
def test_a_warmed_directory_serves_later_processes_without_compiling(tmp_path):
    (tmp_path / "user_model.py").write_text(textwrap.dedent(USER_MODEL))
    compile_dir = tmp_path / "cache"
    out = _run(
        [
            "-m",
            "skautodiff.warm_cache",
            "--dir",
            str(compile_dir),
            "--models",
            "Ridge",
            "--dtype",
            "float64",
            "--estimator",
            "user_model:example",
        ],
        tmp_path,
        tmp_path / "unused",
    )
    assert (
        "Ridge (float64, real targets): compiled" in out and "user_model:example: compiled" in out
    )
    assert str(compile_dir) in out
    warmed = _modules(compile_dir)
    assert len(warmed) >= 3  # PyTensor's C loop, cutils, and the models' own operations

    ridge, user = _run(["-c", USE], tmp_path, compile_dir).splitlines()
    assert _modules(compile_dir) == warmed  # nothing compiled: every module was there
    np.testing.assert_allclose([float(v) for v in ridge.split()], [1.0, 2.0, 3.0, 4.0], rtol=1e-6)
    np.testing.assert_allclose([float(v) for v in user.split()], [1.0, 2.0], rtol=1e-6)
