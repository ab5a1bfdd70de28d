"""A Warren cluster in network namespaces (deploy/cluster/cluster.py) and a client in its hub.

The client stands where a user's browser would: in the hub namespace, reaching the nodes'
addresses over the cluster's bridge. Its calls run on one thread that has entered the hub
(network namespaces are per thread), so the test's other threads keep the host's network.
"""

import concurrent.futures
import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_deploy_module(name: str):
    """deploy/cluster/<name>.py: scripts beside the deploy tools, not in a package."""
    qualified = f"warren_cluster_{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            qualified, REPO / "deploy" / "cluster" / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return sys.modules[qualified]


def load_cluster_module():
    return load_deploy_module("cluster")


class HubClient:
    """Runs callables on a thread inside the cluster's hub namespace."""

    def __init__(self, namespace: str):
        module = load_cluster_module()
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, initializer=module.enter_namespace, initargs=(namespace,)
        )

    def __call__(self, function, *args, **kwargs):
        return self.pool.submit(function, *args, **kwargs).result()

    def close(self) -> None:
        self.pool.shutdown()


@pytest.fixture(scope="package")
def cluster():
    """Four machines and a database node, up for tests/cluster and removed after."""
    module = load_cluster_module()
    warren = module.Cluster()
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
