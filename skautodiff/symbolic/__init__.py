"""What numpy means in PyTensor: the merged lookup tables.

Each area keeps its own declarative table (see doc/architecture.md for the rule contract); this
module merges them and answers the engine's questions: is there a rule for this callable, method,
attribute or operator, and, when there is not, which supported names are closest.
"""

import difflib
import importlib
import types

import numpy as np
import scipy.linalg
import scipy.special

# Areas, in lookup order. A missing module is skipped so that areas can land one at a time.
# (sparse.py has tables of its own: the engine consults them for sparse operands only.)
_AREAS = (
    "operators",
    "elementwise",
    "reductions",
    "products",
    "shapes",
    "creation",
    "indexing",
    "ufunc_methods",
    "methods",
    "builtins",
    "special",
    "stats",
    "spatial",
    "linalg",
)

FUNCTIONS = {}  # callable (or (owner, "name")) -> rule
METHODS = {}  # ndarray method name -> rule(var, *args, **kwargs)
ATTRIBUTES = {}  # ndarray attribute name -> rule(var)
BINARY = {}  # operator symbol ("+", "@", ...) -> rule(a, b)
UNARY = {}  # "-", "+", "~" -> rule(a)
COMPARE = {}  # "<", "==", ... -> rule(a, b)
INPLACE = {}  # callable key -> index of the positional argument the call updates in place
IN_PLACE_METHODS = {}  # ndarray method that updates the array (sort, fill) -> rule(var, ...) -> its new value
OPERATOR_FUNCTIONS = {}  # operator.add, ... -> (kind, symbol): evaluated as the expression they name
SUBSCRIPTS = {}  # objects indexed like functions (np.r_, np.c_) -> rule(index)

AREAS = {}  # area name -> its module, for the generated catalogue (doc/supported.md)

# Areas whose library is slow to import, loaded when a function of that library is first looked
# up (a user who calls scipy.signal.convolve has imported scipy.signal already): library -> area.
_LAZY_AREAS = {"scipy.signal": "signal"}


def _load(name):
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        return
    AREAS[name] = module
    for table in (
        "FUNCTIONS",
        "METHODS",
        "ATTRIBUTES",
        "BINARY",
        "UNARY",
        "COMPARE",
        "INPLACE",
        "IN_PLACE_METHODS",
        "OPERATOR_FUNCTIONS",
        "SUBSCRIPTS",
    ):
        globals()[table].update(getattr(module, table, {}))


def load_all():
    """Load the lazily loaded areas too (for the catalogue)."""
    for name in _LAZY_AREAS.values():
        if name not in AREAS:
            _load(name)


for _name in _AREAS:
    _load(_name)


def table_key(fn):
    """The table key of a callable: itself, or (owner, name) for a bound method of a library object."""
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        return (owner, getattr(fn, "__name__", None))
    return fn


def lookup(fn):
    """The rule for a callable, or None."""
    module = getattr(fn, "__module__", None) or ""
    for library, area in _LAZY_AREAS.items():
        if area not in AREAS and module.startswith(library):
            _load(area)
    for key in (fn, table_key(fn)):
        try:
            rule = FUNCTIONS.get(key)
        except TypeError:  # unhashable owner
            continue
        if rule is not None:
            return rule
    return None


def subscript_rule(obj):
    """The rule for indexing `obj` with traced values when obj is np.r_ or alike, or None."""
    try:
        return SUBSCRIPTS.get(obj)
    except TypeError:
        return None


def inplace_argument(fn):
    """Index of the argument a callable updates in place (np.add.at), or None."""
    try:
        return INPLACE.get(table_key(fn))
    except TypeError:
        return None


def display_name(key):
    """'numpy.exp', 'scipy.stats.norm.logpdf', ... for a table key or a callable."""
    if isinstance(key, tuple):
        owner, name = key
        owner_name = (
            getattr(owner, "__name__", None) or getattr(owner, "name", None) or type(owner).__name__
        )
        module = getattr(owner, "__module__", None) or type(owner).__module__
        return f"{_public_module(module)}.{owner_name}.{name}"
    module = (
        "scipy.special"
        if home(key) == "scipy.special"
        else getattr(key, "__module__", None) or "builtins"
    )
    name = getattr(key, "__qualname__", None) or getattr(key, "__name__", repr(key))
    return name if module == "builtins" else f"{_public_module(module)}.{name}"


def _public_module(module):
    # numpy._core.fromnumeric -> numpy; scipy.special._ufuncs -> scipy.special
    parts = [p for p in (module or "").split(".") if not p.startswith("_")]
    return ".".join(parts) or module


def home(fn):
    """The public module a callable is reached from ('numpy', 'scipy.special', 'math', ...).

    scipy.special's ufuncs carry no __module__, so they are recognised by membership."""
    if isinstance(fn, tuple):
        fn = fn[0]
    if isinstance(fn, np.ufunc) and getattr(scipy.special, fn.__name__, None) is fn:
        return "scipy.special"
    module = getattr(fn, "__module__", None) or type(fn).__module__
    return _public_module(module)


def closest_names(name, module=None, n=3):
    """Supported names close to `name`, for 'did you mean' hints: only names of the same module
    (`module`, as `home` gives it), so that scipy's cdist is not offered math's dist."""
    if module is None:
        names = set(METHODS)
    else:
        names = {display_name(k).rsplit(".", 1)[-1] for k in FUNCTIONS if home(k) == module}
    return difflib.get_close_matches(name, sorted(names), n=n, cutoff=0.7)


# What to write instead of functions that have no rule, with an example (keyed like FUNCTIONS).
ALTERNATIVES = {
    np.partition: "np.sort(x, axis) gives a valid partition for every k (and is differentiable)",
    np.argpartition: "np.argsort(x, axis) orders the whole axis, which is a valid argpartition",
    np.frompyfunc: "write the function with numpy operations on whole arrays and call it directly",
    np.piecewise: "np.select([cond1, cond2], [f1(x), f2(x)], default) or nested np.where "
    "computes the same pieces",
    scipy.linalg.sqrtm: "for a symmetric positive semi-definite matrix, w, V = np.linalg.eigh(A); "
    "V @ np.diag(np.sqrt(w)) @ V.T is its square root (or use np.linalg.cholesky "
    "where a factor L with A = L L^T serves)",
    **{
        getattr(
            scipy.special, name
        ): "Bessel functions of the second kind (y0, y1, yn, yv) have no "
        "PyTensor counterpart; compute them outside the traced function when they do not depend on the "
        "parameters"
        for name in ("y0", "y1", "yn", "yv", "yve")
    },
}


def alternative(fn):
    """A known alternative for a callable without a rule, or None."""
    for key in (fn, table_key(fn)):
        try:
            hint = ALTERNATIVES.get(key)
        except TypeError:
            continue
        if hint is not None:
            return hint
    return None
