"""Dask measurements (doc/scaling.md): a logistic fit on a dask array vs in memory, and a grid search
on the cluster vs loky; or (--minibatch-only) Adam epochs on a dask array vs in memory. Runs alone:

    python -m benchmarks.dask_scaling [--rows 1000000] [--features 100] [--chunks 8]
    python -m benchmarks.dask_scaling --minibatch-only --rows 200000 --features 20

A LocalCluster of 2 worker processes (1 thread each) on this machine. The data are generated on
the workers (dask.array.random), so the client never holds them during the dask fit; the client's
resident memory is sampled every 10 ms during the fit and its peak rise reported. The in-memory fit
then computes the same array into this process and fits it with one process.
"""

import argparse
import threading
import time

import numpy as np


class PeakMemory:
    """The peak rise of this process's resident memory while the block runs (10 ms samples)."""

    def __enter__(self):
        import psutil

        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.rise_mb = (self.peak - self.start) / 2**20


def dask_fit(client, rows, features, chunks):
    import dask.array as da

    from skautodiff.models import LogisticRegression

    random = da.random.RandomState(0)
    X = random.standard_normal((rows, features), chunks=(rows // chunks, features))
    w = np.random.default_rng(1).normal(size=features)
    y = ((X @ w + random.standard_normal(rows, chunks=rows // chunks)) > 0).astype(int)
    X, y = client.persist([X, y])
    from distributed import wait

    wait([X, y])
    LogisticRegression(max_iter=2).fit(
        X[: 2 * (rows // chunks)], y[: 2 * (rows // chunks)]
    )  # compiles on the workers
    with PeakMemory() as memory:
        start = time.perf_counter()
        est = LogisticRegression().fit(X, y)
        seconds = time.perf_counter() - start
    return est, X, y, seconds, memory.rise_mb


def round_overhead(client, chunks, features):
    """Seconds per chunk round when the chunks are tiny (100 rows): what Dask adds per evaluation
    (scatter, chunk tasks, reduction, result) beyond the chunk work itself."""
    import dask.array as da

    from skautodiff.models import LogisticRegression

    random = da.random.RandomState(2)
    X = random.standard_normal((100 * chunks, features), chunks=(100, features))
    y = (X[:, 0] + random.standard_normal(100 * chunks, chunks=100) > 0).astype(int)
    X, y = client.persist([X, y])
    LogisticRegression(max_iter=2).fit(X, y)  # compiled already; warms this shape's path
    start = time.perf_counter()
    est = LogisticRegression().fit(X, y)
    return (time.perf_counter() - start) / est.chunk_evaluations_


def minibatch_fits(client, rows, features, chunks, epochs=3):
    """Adam on an MLP, `epochs` epochs, on a dask array (data generated on the workers) and then in
    memory: seconds per epoch of each, and the client's peak memory rise during the dask fit."""
    import dask.array as da

    from skautodiff.models import MLPClassifier

    random = da.random.RandomState(3)
    X = random.standard_normal((rows, features), chunks=(rows // chunks, features))
    y = (X[:, 0] - X[:, 1] + random.standard_normal(rows, chunks=rows // chunks) > 0).astype(int)
    X, y = client.persist([X, y])

    def make(max_iter):
        return MLPClassifier(
            hidden_layer_sizes=(16,), optimizer="adam", max_iter=max_iter, tol=0.0, random_state=0
        )

    make(1).fit(X, y)  # one epoch over every chunk: each worker compiles the step
    with PeakMemory() as memory:
        start = time.perf_counter()
        est = make(epochs).fit(X, y)
        dask_seconds = time.perf_counter() - start
    Xm, ym = client.compute([X, y], sync=True)
    make(1).fit(Xm[:5000], ym[:5000])  # compiles in this process
    start = time.perf_counter()
    reference = make(epochs).fit(Xm, ym)
    memory_seconds = time.perf_counter() - start
    return dask_seconds / est.n_iter_, memory_seconds / reference.n_iter_, memory.rise_mb


def in_memory_fit(X, y):
    from skautodiff.models import LogisticRegression

    LogisticRegression(max_iter=2).fit(X[:1000], y[:1000])  # compiles
    start = time.perf_counter()
    est = LogisticRegression().fit(X, y)
    return est, time.perf_counter() - start


def grid_search(client, folds=5, values=10):
    import joblib
    from sklearn.model_selection import GridSearchCV

    from skautodiff.models import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 10))
    y = (X @ rng.normal(size=10) + rng.normal(size=2000) > 0).astype(int)
    grid = {"C": list(np.logspace(-3, 2, values))}

    def compiles():
        import skautodiff

        return skautodiff.cache_info().compiles

    before = client.run(compiles)
    start = time.perf_counter()
    with joblib.parallel_config("dask"):
        on_cluster = GridSearchCV(LogisticRegression(), grid, cv=folds).fit(X, y)
    cluster_seconds = time.perf_counter() - start
    after = client.run(compiles)
    start = time.perf_counter()
    with_loky = GridSearchCV(LogisticRegression(), grid, cv=folds, n_jobs=2).fit(X, y)
    loky_seconds = time.perf_counter() - start
    serial = GridSearchCV(LogisticRegression(), grid, cv=folds, n_jobs=1).fit(X, y)
    same = np.array_equal(
        on_cluster.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    per_worker = {w: after[w] - before.get(w, 0) for w in after}
    return (
        cluster_seconds,
        loky_seconds,
        per_worker,
        same and with_loky.best_params_ == serial.best_params_,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument(
        "--minibatch-only", action="store_true", help="only Adam epochs, dask vs in memory"
    )
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        if args.minibatch_only:
            import warnings

            from sklearn.exceptions import ConvergenceWarning

            warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed number of epochs
            per_epoch, in_memory, rise = minibatch_fits(
                client, args.rows, args.features, args.chunks
            )
            print(
                f"adam, MLP (16 hidden), {args.rows} x {args.features} in {args.chunks} chunks, "
                f"batch 200: dask {per_epoch:.2f} s per epoch, in memory {in_memory:.2f} s "
                f"({per_epoch / in_memory:.2f}x); client peak memory rise {rise:.1f} MB"
            )
            return
        est, X, y, dask_seconds, rise = dask_fit(client, args.rows, args.features, args.chunks)
        mb = args.rows * args.features * 8 / 2**20
        rounds = est.chunk_evaluations_
        print(
            f"logistic {args.rows} x {args.features} float64 ({mb:.0f} MB) in {args.chunks} chunks on 2 workers:"
        )
        print(
            f"  dask fit            {dask_seconds:8.2f} s, {est.n_iter_} iterations, {rounds} chunk rounds "
            f"({dask_seconds / rounds * 1e3:.1f} ms per round); client peak memory rise {rise:.1f} MB"
        )
        overhead = round_overhead(client, args.chunks, args.features)
        print(
            f"  per-round overhead  {overhead * 1e3:8.1f} ms (a fit on {args.chunks} chunks of 100 rows)"
        )
        Xm, ym = client.compute([X, y], sync=True)
        reference, memory_seconds = in_memory_fit(Xm, ym)
        evaluations = max(reference.n_iter_, 1)
        print(
            f"  in-memory fit       {memory_seconds:8.2f} s, {reference.n_iter_} iterations "
            f"({memory_seconds / evaluations * 1e3:.1f} ms per iteration); dask/in-memory "
            f"{dask_seconds / memory_seconds:.2f}x"
        )
        scale = np.max(np.abs(reference.coef_))
        print(
            f"  max relative difference of coef_: {np.max(np.abs(reference.coef_ - est.coef_)) / scale:.2e}"
        )
        if not args.skip_grid:
            cluster_seconds, loky_seconds, per_worker, same = grid_search(client)
            print(
                f"grid search 5 folds x 10 values of C (2000 x 10): cluster {cluster_seconds:.2f} s, "
                f"loky n_jobs=2 {loky_seconds:.2f} s; compiles per worker {sorted(per_worker.values())}; "
                f"results equal to n_jobs=1: {same}"
            )


if __name__ == "__main__":
    main()
