"""One contender's first fit in a fresh process: what a user waits for in a new session.

    python -m benchmarks.child --problem KEY --contender NAME [--quick]

Prints one JSON line: import time of the contender's libraries, setup + first fit (trace, compile
or jit included), and memory: the process's peak resident set during setup + fit, and how far
that peak rose above the resident set just before (data already generated). The peak is reset
through /proc/self/clear_refs so that generating the data does not count.
The parent chooses the PyTensor compile cache through PYTENSOR_FLAGS (cold: an empty directory).
"""

import argparse
import dataclasses
import importlib
import json
import sys
import time


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--problem", required=True)
    parser.add_argument("--contender", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--maxiter", type=int, help="cap the fit's iterations")
    args = parser.parse_args(argv)

    from benchmarks.contenders import BY_NAME
    from benchmarks.problems import problems

    (problem,) = problems(args.quick, only=[args.problem])
    if args.maxiter:
        problem = dataclasses.replace(problem, maxiter=args.maxiter)
    contender = BY_NAME[args.contender]
    reason = contender.unsupported(problem)
    if reason:
        print(json.dumps({"unsupported": reason}))
        return
    layout = problem.layout()
    data = problem.make_data()
    x0 = problem.x0(layout)

    start = time.perf_counter()
    for module in contender.modules:
        importlib.import_module(module)
    import_s = time.perf_counter() - start

    peak_reset = _reset_peak()
    base_kb = _status_kb("VmRSS")
    start = time.perf_counter()
    fit = contender.prepare(problem, layout, data).fit(x0)
    first_fit_s = time.perf_counter() - start
    peak_kb = _status_kb("VmHWM")
    result = {
        "import_s": import_s,
        "first_fit_s": first_fit_s,
        "fit_only_s": fit.seconds,
        "nit": fit.nit,
        "peak_rss_mb": peak_kb / 1024,
        "fit_extra_mb": (peak_kb - base_kb) / 1024 if peak_reset else None,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
