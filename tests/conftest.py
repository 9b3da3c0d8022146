"""The suite uses the package's own pytest plugin, exactly as an application would."""

pytest_plugins = ["assistant_models.testing.plugin"]
