"""What numpy means in PyTensor: the merged lookup tables.

Each area keeps its own declarative table (see doc/architecture.md for the rule contract); this
module merges them and answers the engine's questions: is there a rule for this callable, method,
attribute or operator, and, when there is not, which supported names are closest.
"""

import difflib
import importlib
import types

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

AREAS = {}  # area name -> its module, for the generated catalogue (doc/supported.md)

for _name in _AREAS:
    try:
        _module = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{_name}":
            raise
        continue
    AREAS[_name] = _module
    for _table in (
        "FUNCTIONS",
        "METHODS",
        "ATTRIBUTES",
        "BINARY",
        "UNARY",
        "COMPARE",
        "INPLACE",
        "IN_PLACE_METHODS",
    ):
        globals()[_table].update(getattr(_module, _table, {}))


def _key(fn):
    """The table key of a callable: itself, or (owner, name) for a bound method of a library object."""
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        return (owner, getattr(fn, "__name__", None))
    return fn


def lookup(fn):
    """The rule for a callable, or None."""
    for key in (fn, _key(fn)):
        try:
            rule = FUNCTIONS.get(key)
        except TypeError:  # unhashable owner
            continue
        if rule is not None:
            return rule
    return None


def inplace_argument(fn):
    """Index of the argument a callable updates in place (np.add.at), or None."""
    try:
        return INPLACE.get(_key(fn))
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
    module = getattr(key, "__module__", None) or "builtins"
    name = getattr(key, "__qualname__", None) or getattr(key, "__name__", repr(key))
    return name if module == "builtins" else f"{_public_module(module)}.{name}"


def _public_module(module):
    # numpy._core.fromnumeric -> numpy; scipy.special._ufuncs -> scipy.special
    parts = [p for p in (module or "").split(".") if not p.startswith("_")]
    return ".".join(parts) or module


def closest_names(name, n=3):
    """Supported names closest to `name`, for 'did you mean' hints."""
    names = {display_name(k).rsplit(".", 1)[-1] for k in FUNCTIONS} | set(METHODS)
    return difflib.get_close_matches(name, sorted(names), n=n, cutoff=0.6)
