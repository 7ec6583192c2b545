"""Markdown tables from the runner's results dict, and their copy into doc/performance.md."""

import re

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


class _Notes:
    """Failures and unsupported cases become numbered footnotes instead of wide cells."""

    def __init__(self):
        self.items = []

    def ref(self, label, text):
        entry = f"{label}: {text}"
        if entry not in self.items:
            self.items.append(entry)
        return f"[{self.items.index(entry) + 1}]"

    def render(self):
        return "".join(f"\n[{i}] {text}" for i, text in enumerate(self.items, 1))


def _status(record, label, notes):
    """'n/a [k]' / 'error [k]' for a record that has no figures, else None."""
    if record is None:
        return "-"
    if "unsupported" in record:
        return "n/a " + notes.ref(label, "not supported: " + record["unsupported"])
    if "error" in record:
        return "error " + notes.ref(label, record["error"])
    return None


def _sec(seconds):
    """Seconds in a readable unit with three significant digits."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _per_call(results, names, notes):
    rows = []
    for p in results["problems"]:
        recs = p["contenders"]
        row = [p["label"], _sec(recs["numpy"]["call_s"])]
        for name in names:
            rec = recs.get(name)
            status = _status(rec, f"{name}, {p['label']}", notes)
            if status:
                row.append(status)
            elif "per_call_error" in rec:
                row.append(
                    "error " + notes.ref(f"{name} per call, {p['label']}", rec["per_call_error"])
                )
            elif "call_ratio" in rec:
                row.append(f"**{rec['call_ratio']:.2f}x** ({_sec(rec['call_s'])})")
            else:
                row.append("-")
        rows.append(row)
    return _table(["problem", "hand numpy"] + names, rows)


def _fit(results, names, notes):
    rows = []
    for p in results["problems"]:
        row = [p["label"]]
        for name in names:
            rec = p["contenders"].get(name)
            status = _status(rec, f"{name}, {p['label']}", notes)
            nit = "" if status or rec["nit"] is None else f", {rec['nit']} it"
            row.append(status or f"{_sec(rec['refit_s'])}{nit} (first {_sec(rec['first_fit_s'])})")
        rows.append(row)
    return _table(["problem"] + names, rows)


def _agreement(results, names, notes):
    rows = []
    for p in results["problems"]:
        row = [p["label"]]
        for name in names:
            rec = p["contenders"].get(name)
            status = _status(rec, f"{name}, {p['label']}", notes)
            if status:
                row.append(status)
                continue
            cell = f"{rec['objective_gap']:+.1e}"
            if "grad_rel_err" in rec:
                cell += f" / {rec['grad_rel_err']:.0e}"
            row.append(cell)
        rows.append(row)
    return _table(["problem"] + names, rows)


def _new_process(results, names, notes):
    time_rows, memory_rows = [], []
    for p in results["problems"]:
        if "new_process" not in p:  # --quick measures new processes on the first problem only
            continue
        runs_by_name = p["new_process"]
        t_row, m_row = [p["label"]], [p["label"]]
        for name in names:
            runs = runs_by_name.get(name)
            status = _status(p["contenders"].get(name), f"{name}, {p['label']}", notes)
            if status or not runs:
                t_row.append(status or "-")
                m_row.append(status or "-")
                continue
            warm = runs["warm"]
            status = _status(warm, f"{name} new process, {p['label']}", notes)
            if status:
                t_row.append(status)
                m_row.append(status)
                continue
            cell = _sec(warm["first_fit_s"])
            cold = runs.get("cold")
            if cold:
                cell += " / cold " + (
                    _status(cold, f"{name} cold, {p['label']}", notes) or _sec(cold["first_fit_s"])
                )
                if cold.get("c_modules") is not None:
                    cell += f", {cold['c_modules']} C modules"
            if warm["import_s"] > 0.01:
                cell += f" (import {_sec(warm['import_s'])})"
            t_row.append(cell)
            extra = warm["fit_extra_mb"]
            m_row.append(
                f"+{extra:.0f} MB ({warm['peak_rss_mb']:.0f})"
                if extra is not None
                else f"{warm['peak_rss_mb']:.0f} MB"
            )
        time_rows.append(t_row)
        memory_rows.append(m_row)
    return _table(["problem"] + names, time_rows), _table(["problem"] + names, memory_rows)


def _grid(results, notes):
    rows = []
    for name, rec in results.get("grid_search", {}).items():
        status = _status(rec, f"{name} grid search", notes)
        if status:
            rows.append([name, status, "", "", ""])
            continue
        rows.append(
            [
                name,
                _sec(rec["seconds"]),
                str(rec["fits"]),
                str(rec.get("compiles", "-")),
                f"{rec['best_score']:.4f}",
            ]
        )
    return _table(["contender", "total time", "fits", "compiles", "best CV accuracy"], rows)


def _threads(record, notes):
    failed = _status(record, "threads", notes)
    if failed:
        return failed
    return _table(
        ["contender", "BLAS threads", "1 thread", "2 threads", "ratio", "results = serial"],
        [
            [
                r["contender"],
                r["blas"],
                f"{r['one']:.1f}/s",
                f"{r['two']:.1f}/s",
                f"**{r['ratio']:.2f}x**",
                "yes" if r["identical"] else "**no**",
            ]
            for r in record["rows"]
        ],
    )


def _stochastic(record, notes):
    failed = _status(record, "minibatch Adam", notes)
    if failed:
        return failed
    rows = []
    for r in record["rows"]:
        if "sklearn_s_per_epoch" in r:
            rows.append(
                [
                    r["part"],
                    f"{1e3 * r['skautodiff_s_per_epoch']:.1f} ms/epoch",
                    f"{1e3 * r['sklearn_s_per_epoch']:.1f} ms/epoch (scikit-learn)",
                    f"**{r['time_ratio']:.2f}x**",
                    f"{r['skautodiff_accuracy']:.4f} / {r['sklearn_accuracy']:.4f}",
                ]
            )
        else:
            rows.append(
                [
                    r["part"],
                    f"{r['skautodiff_us_per_step']:.1f} µs/step",
                    f"{r['numpy_us_per_step']:.1f} µs/step (numpy)",
                    f"**{r['time_ratio']:.2f}x**",
                    "",
                ]
            )
    return _table(
        ["part", "skautodiff", "reference", "ratio", "test accuracy (ours / theirs)"], rows
    )


def render(results):
    meta = results["meta"]
    names = [n for n in results["contenders"] if n != "numpy"]
    notes = _Notes()
    fit_names = ["numpy"] + names
    per_call_names = [n for n in names if n not in ("sklearn", "skautodiff-est")]
    parts = [
        f"Run {meta['date']}, commit {meta['commit']}, Python {meta['python']}, "
        f"{meta['cpus']} CPUs; numpy {meta['numpy']}, scipy {meta['scipy']}, "
        f"scikit-learn {meta['sklearn']}, pytensor {meta['pytensor']}, jax {meta['jax']}, "
        f"autograd {meta['autograd']}. "
        + ("**Quick mode (small sizes).** " if meta["quick"] else "")
        + (
            ""
            if meta["skautodiff_mode"] == "c"
            else f"**SKAUTODIFF_MODE={meta['skautodiff_mode']}: not the C backend.** "
        )
        + f"Suite wall time {meta['wall_s']:.0f} s.",
        "",
        "Contenders: " + "; ".join(f"`{k}` = {v}" for k, v in results["contenders"].items()) + ".",
        "",
        "#### Loss + gradient per call, ratio to hand-written numpy (median, interleaved)",
        "",
        _per_call(results, per_call_names, notes),
        "",
        "#### Fit time: median refit in the same process (first fit in that process)",
        "",
        _fit(results, fit_names, notes),
        "",
        "#### Agreement: objective at the fit relative to numpy's / gradient error at numpy's optimum",
        "",
        _agreement(results, names, notes),
        "",
    ]
    if any("new_process" in p for p in results["problems"]):
        times, memory = _new_process(results, fit_names, notes)
        parts += [
            "#### First fit in a new process: setup + trace/compile/jit + fit, warm / cold compile cache "
            "(and the C modules the cold fit compiled)",
            "",
            "(MLP: these fits stop after 20 iterations; start-up and memory do not grow with "
            "iterations.)",
            "",
            times,
            "",
            "#### Memory: peak RSS rise during setup + first fit in a new process (peak RSS)",
            "",
            memory,
            "",
        ]
    if "grid_search" in results:
        label = next((r["problem"] for r in results["grid_search"].values() if "problem" in r), "")
        parts += [
            f"#### GridSearchCV, 5 folds x 10 C values, {label}, new process",
            "",
            _grid(results, notes),
            "",
        ]
    if "trace" in results:
        rec = results["trace"]
        parts += [
            "#### Trace time (engine run + graph building, no compile), median of "
            f"{rec.get('repeats', '?')}",
            "",
            _table(
                ["loss", "lines", "trace"],
                [
                    [
                        "`benchmarks/trace_time.py` zero-inflated Poisson mixture",
                        str(rec.get("lines", "?")),
                        _status(rec, "trace", notes) or _sec(rec["trace_s"]),
                    ]
                ],
            ),
            "",
        ]
    if "stochastic" in results:
        parts += [
            (
                "#### Minibatch Adam (`python -m benchmarks.stochastic`): time per epoch against "
                "scikit-learn's MLPClassifier(solver=\"adam\"), one step against hand-written numpy"
            ),
            "",
            _stochastic(results["stochastic"], notes),
            "",
        ]
    if "threads" in results:
        parts += [
            f"#### Loss + gradient from 1 and 2 threads at once, {results['threads'].get('problem', '')}: "
            "calls per second over all threads (median of interleaved rounds)",
            "",
            _threads(results["threads"], notes),
            "",
        ]
    if notes.items:
        parts += ["Notes:", notes.render().lstrip("\n").replace("\n", "  \n"), ""]
    return "\n".join(parts)


def write_doc(path, markdown, results):
    """Replace the generated block of doc/performance.md (between the bench markers)."""
    command = "python -m benchmarks.run " + " ".join(results["meta"]["argv"])
    block = f"{BEGIN}\nProduced by `{command.strip()}`.\n\n{markdown}\n{END}"
    text = path.read_text() if path.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    path.write_text(text)
