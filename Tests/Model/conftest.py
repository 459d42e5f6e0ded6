"""Registers the model test's markers (pytest Tests/Model -m model)."""


def pytest_configure(config):
    config.addinivalue_line("markers", "model: the model-based test of elena-run (real binary, real folders)")
    config.addinivalue_line("markers", "model_long: the long model-based run (ELENA_MODEL_TOTAL actions)")
