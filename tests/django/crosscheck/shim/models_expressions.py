"""Stand-in for ``models_expressions``."""

from ex.models import Company, Employee, Number

__all__ = ["Company", "Employee", "Number"]
