"""A local Ray cluster for the imlane-ray system of bench/run.py: N nodes (raylets) on this machine,
each with its own CPUs, on loopback, in a temp dir of its own, stopped at the end of the run.

`ray.cluster_utils.Cluster` (Ray's own multi-node-on-one-machine helper) rather than `ray start`
twice: the second node gets its own resources and can be removed by itself.
"""
import os
import shutil
import tempfile

# Ray turns 127.0.0.1 into the machine's address unless told otherwise (the Ray bridge of the
# coordinator sets the same for a loopback address).
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


class LocalCluster:
    def __init__(self, nodes=2, cpus_per_node=1):
        os.environ.update(LOOPBACK_ENV)
        from ray.cluster_utils import Cluster
        self.temp = tempfile.mkdtemp(prefix="imlane-bray-", dir="/tmp")  # Ray's socket paths must be short
        self.cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": cpus_per_node, "node_ip_address": "127.0.0.1", "temp_dir": self.temp})
        for i in range(nodes - 1):  # each on its own loopback address, as if on its own machine
            self.cluster.add_node(num_cpus=cpus_per_node, node_ip_address=f"127.0.0.{i + 2}")
        self.cluster.wait_for_nodes()
        self.address = self.cluster.address

    def stop(self):
        try:
            self.cluster.shutdown()
        finally:
            shutil.rmtree(self.temp, ignore_errors=True)
