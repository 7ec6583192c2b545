"""scipy.spatial.distance's pairwise distances in PyTensor (see doc/architecture.md, "Symbolic rules").

`cdist(XA, XB, metric)` and `pdist(X, metric)` for the metrics in `_METRICS`, each written from the
row differences (never from the Gram matrix, whose cancellation would cost accuracy). Where a metric
is not differentiable at zero distance (euclidean, minkowski: the norm at the origin) its gradient
there is the zero subgradient, which is also the exact gradient of the zero diagonal of cdist(X, X).
"""

import pytensor.tensor as pt
import scipy.spatial.distance as ssd

from .special import as_tensor as _as


def _root(total, power):
    # total ** (1 / power) with a zero gradient where total == 0 (instead of inf * 0 = nan)
    positive = total > 0
    return pt.switch(positive, pt.switch(positive, total, 1.0) ** (1.0 / power), 0.0)


def _euclidean(a, b):
    d = a - b
    return _root(pt.sum(d * d, axis=-1), 2.0)


def _sqeuclidean(a, b):
    d = a - b
    return pt.sum(d * d, axis=-1)


def _cityblock(a, b):
    return pt.sum(pt.abs(a - b), axis=-1)


def _chebyshev(a, b):
    return pt.max(pt.abs(a - b), axis=-1)


def _minkowski(a, b, p=2.0):
    return _root(pt.sum(pt.abs(a - b) ** p, axis=-1), p)


def _seuclidean(a, b, V):
    d = a - b
    return _root(pt.sum(d * d / V, axis=-1), 2.0)


def _cosine(a, b):
    dot = pt.sum(a * b, axis=-1)
    return 1.0 - dot / pt.sqrt(pt.sum(a * a, axis=-1) * pt.sum(b * b, axis=-1))


def _correlation(a, b):
    return _cosine(a - pt.mean(a, axis=-1, keepdims=True), b - pt.mean(b, axis=-1, keepdims=True))


def _braycurtis(a, b):
    return pt.sum(pt.abs(a - b), axis=-1) / pt.sum(pt.abs(a + b), axis=-1)


def _canberra(a, b):
    # terms where both coordinates are 0 count as 0, as in scipy
    num = pt.abs(a - b)
    den = pt.abs(a) + pt.abs(b)
    nonzero = den > 0
    return pt.sum(pt.switch(nonzero, num / pt.switch(nonzero, den, 1.0), 0.0), axis=-1)


# metric name -> (distance of broadcast row pairs, its keyword arguments besides the rows)
_METRICS = {
    "euclidean": (_euclidean, ()),
    "sqeuclidean": (_sqeuclidean, ()),
    "cityblock": (_cityblock, ()),
    "chebyshev": (_chebyshev, ()),
    "minkowski": (_minkowski, ("p",)),
    "seuclidean": (_seuclidean, ("V",)),
    "cosine": (_cosine, ()),
    "correlation": (_correlation, ()),
    "braycurtis": (_braycurtis, ()),
    "canberra": (_canberra, ()),
}
_ALIASES = {
    "cblock": "cityblock",
    "cb": "cityblock",
    "c": "cityblock",
    "manhattan": "cityblock",
    "eu": "euclidean",
    "e": "euclidean",
    "euclid": "euclidean",
    "sqe": "sqeuclidean",
    "sqeuclid": "sqeuclidean",
    "chebychev": "chebyshev",
    "cheby": "chebyshev",
    "cheb": "chebyshev",
    "ch": "chebyshev",
    "mi": "minkowski",
    "minkowsky": "minkowski",
    "pnorm": "minkowski",
    "se": "seuclidean",
    "cos": "cosine",
    "co": "correlation",
    "corr": "correlation",
    "bray": "braycurtis",
    "brayc": "braycurtis",
    "braycurtiss": "braycurtis",
    "canb": "canberra",
}


def _metric(function, metric, kwargs, rows):
    """(distance, its keyword arguments) for a metric name; refuses what has no rule."""
    if callable(metric):
        raise NotImplementedError(
            f"scipy.spatial.distance.{function} with a Python metric function is not "
            "supported; write the distance with numpy on X[:, None, :] - Y[None, :, :]"
        )
    name = _ALIASES.get(str(metric).lower(), str(metric).lower())
    if name not in _METRICS:
        raise NotImplementedError(
            f"scipy.spatial.distance.{function}(metric={metric!r}) is not supported; "
            f"supported metrics: {', '.join(sorted(_METRICS))}"
        )
    distance, names = _METRICS[name]
    unknown = set(kwargs) - set(names)
    if unknown:
        raise NotImplementedError(
            f"scipy.spatial.distance.{function}: {', '.join(sorted(unknown))}= is not "
            f"supported with metric {name!r}"
        )
    extra = {key: _as(value) for key, value in kwargs.items()}
    if name == "seuclidean" and "V" not in extra:
        # scipy's default: the variance of each coordinate over all rows given, with ddof=1
        stacked = pt.concatenate(rows, axis=0)
        extra["V"] = pt.var(stacked, axis=0, ddof=1)
    if name == "minkowski" and "p" in extra and extra["p"].ndim:
        raise NotImplementedError("scipy.spatial.distance: minkowski's p must be a number")
    return distance, extra


def cdist(XA, XB, metric="euclidean", *, out=None, **kwargs):
    if out is not None:
        raise NotImplementedError(
            "scipy.spatial.distance.cdist(out=...) is not supported in traced code"
        )
    XA, XB = _as(XA), _as(XB)
    distance, extra = _metric("cdist", metric, kwargs, [XA, XB])
    return distance(XA[:, None, :], XB[None, :, :], **extra)


def pdist(X, metric="euclidean", *, out=None, **kwargs):
    if out is not None:
        raise NotImplementedError(
            "scipy.spatial.distance.pdist(out=...) is not supported in traced code"
        )
    X = _as(X)
    distance, extra = _metric("pdist", metric, kwargs, [X])
    full = distance(X[:, None, :], X[None, :, :], **extra)
    # the condensed form: pairs i < j in row-major order, which is how a boolean mask selects them
    index = pt.arange(X.shape[0])
    return full[index[:, None] < index[None, :]]


FUNCTIONS = {
    ssd.cdist: cdist,
    ssd.pdist: pdist,
}
