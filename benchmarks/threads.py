"""Throughput of a large-X loss + gradient called from 1 thread and from 2 threads at once.

    python -m benchmarks.threads [--quick]

dask's workers and joblib's threading backend run tasks in threads, so one compiled function is
called from several threads at once; it must let them run on both cores (issue 10), not
serialise them. The problem is the suite's logistic-large (100000x100 float64; --quick: 2000x20);
the contenders are the flat-vector value-and-gradient callables of `numpy` (hand-written: what the
hardware allows), `skautodiff` (one `value_and_grad` shared by the threads) and, as the baseline
that serialises the threads, that same callable behind one lock (`skautodiff-locked`).

A figure is calls per second summed over the threads, the median of interleaved rounds; the ratio
2 threads / 1 thread is the one to read (2.0: both cores fully used). Measured twice: with numpy's
BLAS at its default thread count (one call already uses both cores in its matrix products) and
with every BLAS limited to one thread (what a dask worker with several threads is usually given).
Every threaded result is compared with a serial call's, bit for bit.
"""

import argparse
import json
import statistics
import threading
import time

import numpy as np


def _rate(vg, x, threads, seconds):
    """(calls per second over all threads, the last result of each thread)."""
    barrier = threading.Barrier(threads + 1)
    counts, last = [0] * threads, [None] * threads

    def work(i):
        barrier.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            last[i] = vg(x)
            counts[i] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - start), last


def _locked(fn):
    lock = threading.Lock()

    def locked(x):
        with lock:
            return fn(x)

    return locked


def _identical(a, b):
    return float(a[0]) == float(b[0]) and np.array_equal(a[1], b[1])


def measure(quick=False, seconds=1.0, rounds=3):
    """{"problem", "seconds", "rounds", "rows": [{contender, blas, one, two, ratio, identical}]}."""
    from threadpoolctl import threadpool_limits

    from benchmarks.contenders import BY_NAME
    from benchmarks.problems import problems

    (problem,) = problems(quick, only=["logistic-large"])
    layout, data = problem.layout(), problem.make_data()
    x = problem.x0(layout) + 0.01 * np.random.default_rng(0).standard_normal(layout.size)
    rows = []
    for blas, limit in (("default", None), ("1 thread", 1)):
        with threadpool_limits(limits=limit, user_api="blas"):
            for name in ("numpy", "skautodiff", "skautodiff-locked"):
                vg = BY_NAME[name.split("-")[0]].prepare(problem, layout, data).vg
                if name.endswith("-locked"):
                    vg = _locked(vg)
                serial = vg(x)  # also the trace and compile, outside the timing
                rates, identical = {1: [], 2: []}, True
                for _ in range(rounds):  # interleaved: the machine's load changes over time
                    for threads in (1, 2):
                        rate, last = _rate(vg, x, threads, seconds)
                        rates[threads].append(rate)
                        identical &= all(_identical(r, serial) for r in last)
                one, two = statistics.median(rates[1]), statistics.median(rates[2])
                rows.append(
                    {
                        "contender": name,
                        "blas": blas,
                        "one": one,
                        "two": two,
                        "ratio": two / one,
                        "identical": identical,
                    }
                )
    return {"problem": problem.label, "seconds": seconds, "rounds": rounds, "rows": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure(args.quick, args.seconds, args.rounds)
    for row in result["rows"]:
        print(
            f"{row['contender']:>10}, BLAS {row['blas']:>8}: 1 thread {row['one']:7.1f} calls/s, "
            f"2 threads {row['two']:7.1f} calls/s, ratio {row['ratio']:.2f}, "
            f"results identical to serial: {row['identical']}"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
