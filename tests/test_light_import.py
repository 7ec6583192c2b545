"""`import skautodiff` and predicting with a pickled model never import PyTensor."""

import pickle
import subprocess
import sys

import numpy as np

from skautodiff import models


def _run(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_loads_neither_pytensor_nor_sklearn():
    out = _run(
        "import sys, skautodiff\n"
        "print(sorted(m for m in ('pytensor', 'sklearn', 'scipy') if m in sys.modules))"
    )
    assert out.strip() == "[]"


def test_every_public_name_still_resolves():
    out = _run(
        "import skautodiff\n"
        "print(all(callable(getattr(skautodiff, n)) for n in skautodiff.__all__))\n"
        "print(skautodiff.AutodiffClassifier.__name__, skautodiff.formula.__name__)"
    )
    assert out.split() == ["True", "AutodiffClassifier", "formula"]


def test_a_pickled_model_predicts_without_pytensor(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=60) > 0).astype(int)
    est = models.LogisticRegression().fit(X, y)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(est))
    np.save(tmp_path / "X.npy", X)
    out = _run(
        f"import pickle, sys, numpy as np\n"
        f"est = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"np.save({str(tmp_path / 'p.npy')!r}, est.predict_proba(X))\n"
        f"print(est.predict(X).tolist(), 'pytensor' in sys.modules)"
    )
    labels, imported = out.rsplit(" ", 1)
    assert imported.strip() == "False"
    assert eval(labels) == est.predict(X).tolist()
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), est.predict_proba(X))
