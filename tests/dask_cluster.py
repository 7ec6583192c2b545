"""A real dask.distributed cluster for the dask tests: 2 worker processes of 1 thread each, on the
loopback interface, without dashboards. Each test module makes it a module-scoped fixture (starting
worker processes costs seconds), closed after its last test:

    @pytest.fixture(scope="module")
    def cluster_client():
        yield from dask_cluster.running()
"""

import pytest


def _start():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    return cluster, distributed.Client(cluster)


def running():
    """Yields a Client of a fresh LocalCluster; closes both afterwards."""
    cluster, client = _start()
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def worker_compiles(client):
    """{worker address: skautodiff.cache_info().compiles} in each worker process."""

    def compiles():
        import skautodiff

        return skautodiff.cache_info().compiles

    return client.run(compiles)
