"""Cox proportional hazards regression (Breslow ties), fitted by its partial likelihood.

The hazard of sample i at time t is h0(t) exp(x_i . w); the partial likelihood leaves the
baseline h0 out. With the samples ordered latest time first, the risk set at an event time (all
samples still under observation then) is a prefix of that order, so its sum of exp(x . w) is a
cumulative sum; tied times share the risk set of their whole tie group (Breslow's rule):

    log L(w) = sum_{i: event} [ x_i . w - log sum_{j: t_j >= t_i} exp(x_j . w) ]

This is what statsmodels' ``PHReg(..., ties="breslow")`` maximises (its ``llf``), and the tests
check both agree on the coefficients and the log-likelihood. lifelines' ``CoxPHFitter`` uses
Efron's rule for ties, which differs when event times tie.
"""

import numpy as np
from sklearn.utils.validation import _num_samples

from ..estimators import AutodiffRegressor


def concordance_index(time, event, risk):
    """Harrell's concordance index of risk scores: among the comparable pairs, those where
    sample i had an event at a time t_i before sample j's time (t_i < t_j, whether j's ended in
    an event or a censoring), the share in which i has the higher risk; equal risks count half.
    0.5 is chance, 1 a perfect ordering."""
    time, event, risk = (np.asarray(a, dtype=np.float64).ravel() for a in (time, event, risk))
    concordant = pairs = 0.0
    for i in np.flatnonzero(event):  # O(n^2) comparisons in O(n) memory
        later = risk[time > time[i]]
        pairs += later.size
        concordant += np.sum(risk[i] > later) + 0.5 * np.sum(risk[i] == later)
    if pairs == 0:
        raise ValueError(
            "no comparable pairs: the concordance index needs an event that happened "
            "before another sample's time"
        )
    return concordant / pairs


def _time_event_columns(y):
    """A structured y with one boolean field (the event indicator, as scikit-survival's
    ``Surv.from_arrays`` makes) and one numeric field (the time) as columns [time, event];
    any other y as it is."""
    names = getattr(getattr(y, "dtype", None), "names", None)
    if not names:
        return y
    kinds = {name: y.dtype.fields[name][0].kind for name in names}
    events = [name for name in names if kinds[name] == "b"]
    times = [name for name in names if kinds[name] in "iuf"]
    if len(names) != 2 or len(events) != 1 or len(times) != 1:
        fields = {name: str(y.dtype.fields[name][0]) for name in names}
        raise ValueError(
            f"a structured y for CoxPHRegressor needs two fields, a boolean event indicator and "
            f"a numeric time; got fields {fields}"
        )
    return np.column_stack([np.asarray(y[times[0]], dtype=np.float64), y[events[0]]])


class CoxPHRegressor(AutodiffRegressor):
    """Cox proportional hazards model with Breslow's handling of tied times.

    ``fit(X, y)`` takes ``y`` as an (n, 2) array of columns ``[time, event]`` (event 1 for an
    observed event, 0 for a censored time), or a structured array with a numeric time field and
    a boolean event field. It minimises ``-log L(w) / n + alpha / 2 * ||w||^2`` (n: the samples,
    or the total sample weight), where log L is the Breslow partial log-likelihood; there is no
    intercept (the baseline hazard takes its place).

    After fitting: ``coef_`` (the log hazard ratios), ``log_likelihood_`` (log L at ``coef_``,
    the penalty left out: statsmodels' ``llf``). ``predict`` gives the risk score ``X @ coef_``
    (the log partial hazard, statsmodels' ``pred_type="lhr"``), ``predict_partial_hazard`` its
    exponential, and ``score`` Harrell's concordance index (see :func:`concordance_index`), as
    scikit-survival's models do. Covariates are not centred (lifelines centres them, which
    shifts its partial hazards by a constant factor but not the coefficients). ``backend="jax"``
    compiles the loss with JAX (see doc/backends.md); its risk sets depend on the order of the
    rows, so on JAX it is compiled for each data size.
    """

    multi_output = True  # y has two columns

    def __init__(self, alpha=0.0, max_iter=1000, tol=1e-10, verbose=0, backend="c"):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.backend = backend

    def fit(self, X, y, sample_weight=None):
        super().fit(X, _time_event_columns(y), sample_weight=sample_weight)
        # loss_ is -log L / (total weight) + the penalty, at params_
        total = _num_samples(X) if sample_weight is None else float(np.sum(sample_weight))
        penalty = self.alpha / 2 * float(np.sum(np.asarray(self.coef_, dtype=np.float64) ** 2))
        self.log_likelihood_ = -(self.loss_ - penalty) * total
        return self

    def _encode_target(self, X, y, partial_classes=None):
        if y.ndim != 2 or y.shape[1] != 2:
            raise ValueError(
                f"CoxPHRegressor needs y with two columns [time, event]; got shape {y.shape}"
            )
        if not np.isin(y[:, 1], (0, 1)).all():
            raise ValueError(
                "the event column y[:, 1] must hold 1 (event) or 0 (censored); got "
                f"{np.unique(y[:, 1])[:5].tolist()}"
            )
        if not y[:, 1].any():
            raise ValueError(
                "y has no events (y[:, 1] is all 0): the partial likelihood has no terms"
            )
        return super()._encode_target(X, y, partial_classes)

    def init_params(self, X, y, rng):
        return {"w": np.zeros(X.shape[1])}

    def loss(self, params, X, y, sample_weight=None):
        time, event = y[:, 0], y[:, 1]
        weight = np.ones_like(time) if sample_weight is None else sample_weight
        order = np.argsort(-time, kind="stable")  # latest first: each risk set is a prefix
        eta, t, d, v = (X @ params["w"])[order], time[order], event[order], weight[order]
        top = np.max(eta)  # exp(eta - top) cannot overflow
        at_risk = np.cumsum(v * np.exp(eta - top))
        # Breslow: a tie group's risk set runs to its last member (in this order)
        group_end = np.searchsorted(-t, -t, side="right") - 1
        log_likelihood = np.sum(v * d * (eta - np.log(at_risk[group_end]) - top))
        return -log_likelihood / np.sum(weight) + self.alpha / 2 * np.sum(params["w"] ** 2)

    def predict_fn(self, params, X):
        return X @ params["w"]

    def predict_partial_hazard(self, X):
        """``exp(X @ coef_)``: the hazard relative to a sample with all covariates 0."""
        return np.exp(self.predict(X))

    def score(self, X, y, sample_weight=None):
        """Harrell's concordance index of ``predict(X)`` (sample weights are not supported)."""
        if sample_weight is not None:
            raise ValueError("CoxPHRegressor.score does not take sample weights")
        y = np.asarray(_time_event_columns(y), dtype=np.float64)
        return concordance_index(y[:, 0], y[:, 1], self.predict(X))

    @property
    def coef_(self):
        return self.params_["w"]
