"""Small-model tests here run on one intra-op thread (see ef_devices.one_intra_op_thread)."""

from ef_devices import one_intra_op_thread  # noqa: F401  (autouse fixture, active for this directory)
