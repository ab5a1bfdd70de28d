"""A Warren cluster in network namespaces (deploy/cluster/cluster.py) and a client in its hub.

The client stands where a user's browser would: in the hub namespace, reaching the nodes'
addresses over the cluster's bridge. Its calls run on one thread that has entered the hub
(network namespaces are per thread), so the test's other threads keep the host's network.
"""

import concurrent.futures

import pytest

from deploy.cluster import cluster as cluster_module


class HubClient:
    """Runs callables on a thread inside the cluster's hub namespace."""

    def __init__(self, namespace: str):
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, initializer=cluster_module.enter_namespace, initargs=(namespace,)
        )

    def __call__(self, function, *args, **kwargs):
        return self.pool.submit(function, *args, **kwargs).result()

    def close(self) -> None:
        self.pool.shutdown()


@pytest.fixture(scope="package")
def cluster():
    """Four machines and a database node, up for tests/cluster and removed after."""
    warren = cluster_module.Cluster()
    try:
        warren.up()
        yield warren
    finally:
        warren.down()


@pytest.fixture(scope="package")
def hub(cluster):
    client = HubClient(cluster.namespace("hub"))
    yield client
    client.close()
