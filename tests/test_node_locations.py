"""The engine records the user's line on the nodes it builds (engine/locations.py): looked up by
the dask split's errors instead of re-tracing under a patched PyTensor."""

import inspect
import threading

import numpy as np

from skautodiff.engine.locations import location_of
from skautodiff.trace import trace


def _scaled(z):
    return np.exp(z) * 2.0  # a helper's own line


def two_steps(w, X):
    z = X @ w
    e = _scaled(z)
    return np.sum(e)


def _line(func, text):
    """The line number of the line of func's source that contains text."""
    lines, first = inspect.getsourcelines(func)
    return first + next(i for i, line in enumerate(lines) if text in line)


def _by_op(outputs):
    """{op class name: [nodes]} of the graph behind outputs."""
    from pytensor.graph.traversal import graph_inputs, io_toposort

    found = {}
    for node in io_toposort(list(graph_inputs(outputs)), outputs):
        found.setdefault(
            type(node.op).__name__ + str(getattr(node.op, "scalar_op", "")), []
        ).append(node)
    return found


def test_each_node_records_the_line_that_built_it():
    tr = trace(two_steps, (np.ones(3), np.ones((4, 3))), {}, {"w"})
    nodes = _by_op(tr.outputs)
    dot = location_of(nodes["Dot"][0].outputs[0])
    assert (dot.function, dot.lineno) == ("two_steps", _line(two_steps, "z = X @ w"))
    assert "z = X @ w" in str(dot)
    exp = location_of(nodes["Elemwiseexp"][0].outputs[0])  # inside the helper: its own line
    assert (exp.function, exp.lineno) == ("_scaled", _line(_scaled, "np.exp(z) * 2.0"))
    total = location_of(nodes["Sumadd"][0].outputs[0])
    assert total.lineno == _line(two_steps, "return np.sum(e)")


def first_loss(w, X):
    a = X @ w
    return np.sum(np.tanh(a))


def second_loss(w, X):
    b = np.cos(X @ w)
    return np.sum(b**2)


def test_traces_in_threads_record_their_own_lines():
    """Two threads tracing at once: every node carries a line of its own thread's function."""
    expected = {first_loss: "first_loss", second_loss: "second_loss"}
    failures, barrier = [], threading.Barrier(2)

    def work(func):
        barrier.wait()
        for _ in range(15):
            tr = trace(func, (np.ones(3), np.ones((5, 3))), {}, {"w"})
            for nodes in _by_op(tr.outputs).values():
                for node in nodes:
                    where = location_of(node.outputs[0])
                    if where is not None and where.function != expected[func]:
                        failures.append((func.__name__, where.function))

    threads = [threading.Thread(target=work, args=(f,)) for f in expected]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:5]


def test_nodes_built_outside_a_trace_have_no_location():
    import pytensor.tensor as pt

    x = pt.vector("x")
    assert location_of(pt.exp(x)) is None


def test_a_traced_graph_still_pickles_with_its_locations():
    """Tags travel with a compiled function's graph; code objects do not pickle, Locations do."""
    import pickle

    import pytensor

    tr = trace(two_steps, (np.ones(3), np.ones((4, 3))), {}, {"w"})
    pickle.loads(pickle.dumps(pytensor.function(tr.inputs, tr.outputs)))
    again = pickle.loads(pickle.dumps(tr.outputs[0]))
    assert str(location_of(again)) == str(location_of(tr.outputs[0]))
    assert "return np.sum(e)" in str(location_of(again))
