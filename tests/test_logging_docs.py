"""Every logger the package uses is in the README's logging table, and nothing else is."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def used_loggers() -> set[str]:
    names = set()
    for path in (ROOT / "assistant_models").rglob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r'getLogger\("([\w.]+)"\)', text))
        if "getLogger(__name__)" in text:
            module = path.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
            names.add(module.removesuffix(".__init__"))
    return names


def documented_loggers() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Logging", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([\w.]+)` \|", section, re.M))


def test_the_readme_names_every_logger_the_package_uses():
    from assistant_models._logs import LOGGING_NAME

    engines = {f"sqlalchemy.engine.Engine.{LOGGING_NAME}", f"sqlalchemy.pool.impl.QueuePool.{LOGGING_NAME}"}
    assert documented_loggers() == used_loggers() | engines
