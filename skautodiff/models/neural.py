"""Multi-layer perceptrons fitted by L-BFGS (default), Adam or SGD, with scikit-learn's MLP objectives.

The parameters are ``{"weights": [W1, ..., Wk], "biases": [b1, ..., bk]}``; hidden layers apply
tanh or relu, the output layer is linear (regression) or a softmax (classification). The penalty
is scikit-learn's: ``alpha / (2 n) * sum of squared weights`` (biases are not penalised).
"""

import numpy as np
from scipy.special import softmax

from ..estimators import AutodiffClassifier, AutodiffRegressor
from ._common import log_sum_exp, total_weight, weighted_mean


class _Perceptron:
    """What both MLPs share: the layers, their initialisation and the penalty.

    ``optimizer="adam"`` or ``"sgd"`` trains on minibatches with scikit-learn's MLP's settings
    (``solver`` there); with the same ``random_state`` the initial weights, the early-stopping split
    and the shuffles are scikit-learn's own (the same draws in the same order).
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        alpha=1e-4,
        max_iter=200,
        tol=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        backend="c",
        optimizer="L-BFGS-B",
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        shuffle=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
    ):
        self.optimizer = optimizer
        self._set_settings(
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            shuffle=shuffle,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
        )
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.backend = backend

    def _init_layers(self, n_inputs, n_outputs, rng):
        """Glorot-uniform layers, as scikit-learn's; n_outputs=None makes a single output whose
        last weights are a vector, so that the network returns shape (n,)."""
        if self.activation not in ("tanh", "relu"):
            raise ValueError(f'activation must be "tanh" or "relu"; got {self.activation!r}')
        sizes = [n_inputs, *self.hidden_layer_sizes, n_outputs or 1]
        weights, biases = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(6 / (fan_in + fan_out))
            weights.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
            biases.append(rng.uniform(-bound, bound, fan_out))
        if n_outputs is None:
            weights[-1], biases[-1] = weights[-1][:, 0], biases[-1][0]
        return {"weights": weights, "biases": biases}

    def _forward(self, params, X):
        """The output layer's values, before any output function."""
        hidden = X
        for W, b in zip(params["weights"][:-1], params["biases"][:-1]):
            z = hidden @ W + b
            # relu as z * (z > 0): the same values and gradient (0 at z = 0, as scikit-learn's), but
            # the gradient is a product that fuses with its neighbours where np.maximum's is a
            # separate switch over a broadcast zero (an Adam epoch on digits: about 5-10% faster)
            hidden = np.tanh(z) if self.activation == "tanh" else z * (z > 0)
        return hidden @ params["weights"][-1] + params["biases"][-1]

    def _penalty(self, params, X, sample_weight):
        squares = 0.0
        for W in params["weights"]:
            squares = squares + np.sum(W**2)
        return self.alpha * squares / (2 * total_weight(X, sample_weight))


class MLPClassifier(_Perceptron, AutodiffClassifier):
    """A multi-layer perceptron classifier: softmax output, mean cross-entropy + the weight penalty.

    The objective is ``sklearn.neural_network.MLPClassifier``'s, fitted by L-BFGS.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        The width of each hidden layer.
    activation : {"relu", "tanh"}, default "relu"
        The hidden layers' activation.
    alpha : float, default 1e-4
        The strength of the L2 penalty on the weights.
    max_iter : int, default 200
        L-BFGS's iteration limit.
    tol : float, optional
        L-BFGS's gradient tolerance.
    random_state : int, RandomState or None
        Seeds the initial weights.
    warm_start : bool, default False
        Start the next fit from ``params_``.
    verbose : int, default 0
        1 prints a line per iteration.
    backend : {"c", "jax"}, default "c"
        What compiles the loss (see :class:`~skautodiff.AutodiffRegressor` and doc/backends.md).

    Attributes
    ----------
    params_ : dict
        ``{"weights": [W1, ..., Wk], "biases": [b1, ..., bk]}``.
    loss_, loss_curve_, n_iter_, converged_
        As for :class:`~skautodiff.AutodiffRegressor`.
    classes_ : ndarray
        The class labels.
    """

    target_encoding = "onehot"

    def init_params(self, X, y, rng):
        return self._init_layers(X.shape[1], y.shape[1], rng)

    def loss(self, params, X, y, sample_weight=None):
        z = self._forward(params, X)
        cross_entropy = log_sum_exp(z) - np.sum(y * z, axis=1)
        return weighted_mean(cross_entropy, sample_weight) + self._penalty(params, X, sample_weight)

    def proba_fn(self, params, X):
        return softmax(self._forward(params, X), axis=1)


class MLPRegressor(_Perceptron, AutodiffRegressor):
    """A multi-layer perceptron regressor: linear output, half the mean squared error + the
    weight penalty; y may have several columns.

    The objective is ``sklearn.neural_network.MLPRegressor``'s, fitted by L-BFGS.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        The width of each hidden layer.
    activation : {"relu", "tanh"}, default "relu"
        The hidden layers' activation.
    alpha : float, default 1e-4
        The strength of the L2 penalty on the weights.
    max_iter : int, default 200
        L-BFGS's iteration limit.
    tol : float, optional
        L-BFGS's gradient tolerance.
    random_state : int, RandomState or None
        Seeds the initial weights.
    warm_start : bool, default False
        Start the next fit from ``params_``.
    verbose : int, default 0
        1 prints a line per iteration.
    backend : {"c", "jax"}, default "c"
        What compiles the loss (see :class:`~skautodiff.AutodiffRegressor` and doc/backends.md).

    Attributes
    ----------
    params_ : dict
        ``{"weights": [W1, ..., Wk], "biases": [b1, ..., bk]}``.
    loss_, loss_curve_, n_iter_, converged_
        As for :class:`~skautodiff.AutodiffRegressor`.
    """

    multi_output = True

    def init_params(self, X, y, rng):
        return self._init_layers(X.shape[1], None if y.ndim == 1 else y.shape[1], rng)

    def loss(self, params, X, y, sample_weight=None):
        error = (self.predict_fn(params, X) - y) ** 2
        per_sample = error if y.ndim == 1 else np.mean(error, axis=1)
        return weighted_mean(per_sample, sample_weight) / 2 + self._penalty(
            params, X, sample_weight
        )

    def predict_fn(self, params, X):
        return self._forward(params, X)
