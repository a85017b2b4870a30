"""Helpers for the plain SQL of the hot paths (access checks, the course version, the
dashboard's due work), written once per process where composing the same query through
the ORM on every request cost more than the database spends answering it."""

from django.db import connection


def table(model) -> str:
    """The model's table, quoted for the database in use."""
    return connection.ops.quote_name(model._meta.db_table)


def tables(*models) -> dict[str, str]:
    """Quoted tables by model name."""
    return {model.__name__: table(model) for model in models}
