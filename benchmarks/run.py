"""The benchmark runner: ``python -m benchmarks.run [--quick] [--write-doc]`` (``make bench``).

For each problem, in this process: every contender fits from the same start (first fit, then
refits), then every contender's loss+gradient is timed interleaved at the reference optimum. Then
each contender's first fit runs in a fresh process (PyTensor-based ones with a cold and a warm
compile cache), and GridSearchCV runs in fresh processes. Writes benchmarks/results/<stamp>.json
and .md (and latest.*); --write-doc copies the tables into doc/performance.md.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import blas, measure, report, threads, trace_time
from benchmarks.contenders import ALL, BY_NAME
from benchmarks.problems import problems

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PYTENSOR_BASED = {"skautodiff", "skautodiff-est", "pytensor"}
# New-process fits of long problems (the MLP's 200 iterations) stop here: the figure is about
# start-up (import, trace, compile) and memory, which do not grow with iterations.
NEW_PROCESS_MAXITER = 20
# The figures measured in this process (per call, refits, threads) are the steady state: C from the
# first call. New processes (first fits, GridSearchCV) start on the Python tier, as users' do.
USER_TIERS = os.environ.get("SKAUTODIFF_TIERS")
os.environ["SKAUTODIFF_TIERS"] = "0"

# Time budgets (seconds) and repeat counts, full run vs --quick.
SETTINGS = {
    False: {
        "call_budget": 4.0,
        "min_calls": 20,
        "refits": 3,
        "fit_budget": 10.0,
        "thread_seconds": 2.0,
        "thread_rounds": 3,
    },
    True: {
        "call_budget": 0.2,
        "min_calls": 5,
        "refits": 2,
        "fit_budget": 1.0,
        "thread_seconds": 0.2,
        "thread_rounds": 1,
    },
}


def _versions():
    out = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "skautodiff_mode": os.environ.get("SKAUTODIFF_MODE", "c"),
    }
    for name, dist in (
        ("numpy", "numpy"),
        ("scipy", "scipy"),
        ("sklearn", "scikit-learn"),
        ("pytensor", "pytensor"),
        ("jax", "jax"),
        ("autograd", "autograd"),
        ("skautodiff", "skautodiff"),
    ):
        try:
            out[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "skautodiff", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    out["commit"] = commit + ("+uncommitted changes" if dirty else "")
    out["blas"] = blas.describe()
    return out


def _in_process(problem, contenders, settings, log):
    """Fits and interleaved per-call timings in this process; returns {contender: record}."""
    layout = problem.layout()
    data = problem.make_data()
    x0 = problem.x0(layout)
    reference = BY_NAME["numpy"].prepare(problem, layout, data).vg
    records, vgs, solutions = {}, {}, {}
    for contender in contenders:
        reason = contender.unsupported(problem)
        if reason:
            records[contender.name] = {"unsupported": reason}
            continue
        try:
            start = time.perf_counter()
            prepared = contender.prepare(problem, layout, data)
            setup_s = time.perf_counter() - start
            first, refits = measure.fits(
                prepared.fit, x0, settings["refits"], settings["fit_budget"]
            )
        except Exception as exc:  # a contender that fails is a row in the table, not a crash
            records[contender.name] = {"error": _one_line(exc)}
            log(f"  {contender.name}: {records[contender.name]['error']}")
            continue
        times = sorted(r.seconds for r in refits)
        records[contender.name] = {
            "setup_s": setup_s,
            "first_fit_s": first.seconds,
            "refit_s": float(np.median(times)),
            "refits": len(times),
            "nit": first.nit,
            "objective": float(reference(first.x)[0]),
        }
        solutions[contender.name] = first.x
        if prepared.vg is not None:
            vgs[contender.name] = prepared.vg
        log(
            f"  {contender.name}: fit {records[contender.name]['refit_s']:.3f} s, "
            f"first {first.seconds:.3f} s, nit {first.nit}"
        )

    x_star = solutions["numpy"]
    f_star = records["numpy"]["objective"]
    for record in records.values():
        if "objective" in record:
            record["objective_gap"] = (record["objective"] - f_star) / abs(f_star)
    for name in list(vgs):
        try:
            records[name].update(measure.gradient_error(vgs[name], reference, x_star))
        except Exception as exc:
            records[name]["per_call_error"] = _one_line(exc)
            del vgs[name]
    calls = measure.per_call(vgs, x_star, settings["call_budget"], settings["min_calls"])
    base = calls["numpy"]["median_s"]
    for name, c in calls.items():
        records[name].update(
            call_s=c["median_s"], calls=c["calls"], call_ratio=c["median_s"] / base
        )
    return records


def _one_line(exc_or_text):
    text = (
        exc_or_text
        if isinstance(exc_or_text, str)
        else f"{type(exc_or_text).__name__}: {exc_or_text}"
    )
    return " ".join(text.split())[:300]


def _child(module, args, env_extra=None, timeout=900):
    env = dict(os.environ)
    env.pop("SKAUTODIFF_TIERS")
    if USER_TIERS is not None:
        env["SKAUTODIFF_TIERS"] = USER_TIERS
    if env_extra:
        for key, value in env_extra.items():
            env[key] = f"{env[key]},{value}" if env.get(key) else value
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        return {"error": _one_line((proc.stderr.strip().splitlines() or ["no output"])[-1])}
    return json.loads(lines[-1])


def _new_process(problem, contenders, quick, log):
    """First fit in a fresh process per contender; PyTensor-based ones run twice on a new, empty
    compile cache: cold, then warm."""
    out = {}
    base = ["--problem", problem.key] + (["--quick"] if quick else [])
    if problem.maxiter > 100:
        base += ["--maxiter", str(NEW_PROCESS_MAXITER)]
    for contender in contenders:
        if contender.unsupported(problem):
            continue
        args = base + ["--contender", contender.name]
        if contender.name in PYTENSOR_BASED:
            with tempfile.TemporaryDirectory(prefix="bench-pytensor-") as cache:
                flags = {"PYTENSOR_FLAGS": f"base_compiledir={cache}"}
                runs = {"cold": _child("benchmarks.child", args, flags)}
                # the C modules the cold fit compiled (a finished process leaves them complete)
                runs["cold"]["c_modules"] = len(
                    {p.parent for p in pathlib.Path(cache).rglob("*.so")}
                )
                runs["warm"] = _child("benchmarks.child", args, flags)
        else:
            runs = {"warm": _child("benchmarks.child", args)}
        out[contender.name] = runs
        log(
            f"  {contender.name}: "
            + ", ".join(f"{k} {v.get('first_fit_s', float('nan')):.2f} s" for k, v in runs.items())
        )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats (~1-2 min)")
    parser.add_argument("--problems", nargs="*", help="problem keys (default: all)")
    parser.add_argument("--contenders", nargs="*", help=f"default: {[c.name for c in ALL]}")
    parser.add_argument(
        "--no-subprocess", action="store_true", help="skip the new-process and grid-search sections"
    )
    parser.add_argument(
        "--write-doc", action="store_true", help="copy the tables into doc/performance.md"
    )
    args = parser.parse_args(argv)

    def log(msg):
        print(msg, flush=True)

    started = time.perf_counter()
    chosen = [BY_NAME[n] for n in args.contenders] if args.contenders else ALL
    if chosen[0].name != "numpy":  # the reference is always measured, and first
        chosen = [BY_NAME["numpy"]] + [c for c in chosen if c.name != "numpy"]
    settings = SETTINGS[args.quick]
    results = {
        "meta": {
            "quick": args.quick,
            "argv": sys.argv[1:],
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            **_versions(),
        },
        "contenders": {c.name: c.title for c in chosen},
        "problems": [],
    }
    for index, problem in enumerate(problems(args.quick, args.problems)):
        log(f"{problem.label}")
        entry = {
            "key": problem.key,
            "label": problem.label,
            "contenders": _in_process(problem, chosen, settings, log),
        }
        # New processes cost seconds each (imports; a cold compile 5-15 s): --quick runs them for
        # the first problem only, which exercises every code path.
        if not args.no_subprocess and (not args.quick or index == 0):
            log("  new process:")
            entry["new_process"] = _new_process(problem, chosen, args.quick, log)
        results["problems"].append(entry)
    if "skautodiff" in results["contenders"]:
        try:
            results["trace"] = trace_time.measure()
        except Exception as exc:
            results["trace"] = {"error": _one_line(exc)}
        log(f"trace of a {results['trace'].get('lines')}-line loss: {results['trace']}")
        try:
            results["threads"] = threads.measure(
                args.quick, settings["thread_seconds"], settings["thread_rounds"]
            )
        except Exception as exc:
            results["threads"] = {"error": _one_line(exc)}
        log(f"loss + gradient from 1 and 2 threads: {results['threads']}")
    if "skautodiff" in results["contenders"] and not args.no_subprocess:
        log("minibatch Adam (benchmarks/stochastic.py)")
        results["stochastic"] = _child("benchmarks.stochastic", ["--quick"] if args.quick else [])
        log(f"  {results['stochastic']}")
    if not args.no_subprocess:
        log("GridSearchCV 5 folds x 10 C values, logistic")
        quick = ["--quick"] if args.quick else []
        results["grid_search"] = {
            name: _child("benchmarks.gridsearch", ["--contender", name] + quick)
            for name in ("sklearn", "skautodiff")
        }
        log(f"  {results['grid_search']}")
    results["meta"]["wall_s"] = time.perf_counter() - started

    markdown = report.render(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    for name in (stamp, "latest"):
        (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1))
        (RESULTS / f"{name}.md").write_text(markdown)
    if args.write_doc:
        report.write_doc(ROOT / "doc" / "performance.md", markdown, results)
    log("\n" + markdown)
    log(f"wrote {RESULTS / (stamp + '.json')} and .md; wall time {results['meta']['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
