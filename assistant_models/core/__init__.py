"""The ORM layer: base model, mixins, QuerySet and Manager. Knows nothing of the domain."""
