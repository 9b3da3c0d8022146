"""Test support for applications built on assistant_models: factories and a pytest plugin.

Runtime code never imports this package. Enable the fixtures in a ``conftest.py``::

    pytest_plugins = ["assistant_models.testing.plugin"]
"""
