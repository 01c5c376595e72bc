"""Project-wide pytest configuration (device parametrisation lives in ef_devices.py)."""


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: runs a CUDA kernel (skips without a GPU)")
