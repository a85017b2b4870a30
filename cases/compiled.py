"""ORM queries of a fixed shape, composed and compiled once per connection.

Composing a queryset (filters, joins, annotations) and compiling it to SQL is Python
work that Django repeats on every call, though for the queries a hot path asks the SQL
never changes: only the values do. On this machine that work costs more than PostgreSQL
spends answering (the autosave's locking query: 3 ms to compose and compile, 0.3 ms in
the database). `compiled` keeps the ORM's words and pays for them once:

    @compiled
    def slots_to_save(attempt, user, slots):
        return AttemptQuestion.objects.filter(attempt_id=attempt, attempt__user=user,
                                              pk__in=slots).select_related("question")

    rows = list(slots_to_save(attempt=5, user=7, slots=[12, 13]))
    first = slots_to_save.first(attempt=5, user=7, slots=[12])  # A row, or None.

The first call on a connection builds the queryset with stand-in values (one per
parameter: a distinct integer, or a list of them, its length part of the shape), compiles
it, and notes where each stand-in landed among the SQL's parameters. Every later call
puts the real values there and runs the same SQL through Django's own iterables, so
models, `select_related`, annotations, `values()` and `prefetch_related` come back as
the plain queryset would give them. Parameters are ids (integers, or model instances
for their primary keys), lists of ids, and aware datetimes compared with datetime
columns (`now`); constants in the builder stay constants. Two mistakes are errors on
the first call, never wrong answers: a stand-in that does not come out among the
parameters as itself (a builder that computes with it), and a datetime among the SQL's
parameters that is no parameter's (a builder that asked for the time itself, which
would stay that moment for good).

The SQL must not depend on anything but the parameters: no lookup that compiles the
active time zone into the SQL (`__date`, `Trunc`), no `.extra()` that reads a setting
at compile time. An empty list gives no rows, as Django's `pk__in=[]` does.

What a compiled query returns is a queryset to iterate, not to refine: a `.filter()`,
`.count()`, `.first()` or `.get()` on it raises TypeError (a clone would carry the SQL
along and ignore what was added). tests/test_compiled.py runs each compiled query of
the app against its plain queryset.
"""

import datetime
import functools
import inspect
import re

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.transaction import TransactionManagementError

# Stand-ins: negative, far below any id the database hands out, so a stand-in is never
# mistaken for a value the builder put in itself; times in the year 1.
_FIRST_STAND_IN = -(2**52)
_FIRST_TIME = datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)
_TIME_TEXT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?")


class _Shape:
    """One query shape compiled on one connection: the queryset, its compiler and SQL,
    and where each parameter's values go among the SQL's parameters."""

    def __init__(self, queryset, compiler, sql: str | None, params: tuple, slots: dict):
        self.queryset = queryset
        self.compiler = compiler
        self.sql = sql
        self.params = params
        self.slots = slots  # Position in params: (parameter name, index in its list).
        self.converters = {}  # get_converters' answers, by the columns asked about.
        # As the ORM checks it when it compiles: a lock needs a transaction, where the
        # database takes locks and has transactions.
        features = compiler.connection.features
        self.locks = bool(
            queryset.query.select_for_update
            and features.has_select_for_update
            and features.supports_transactions
        )

    def bind(self, values: dict) -> tuple:
        params = list(self.params)
        adapt = self.compiler.connection.ops.adapt_datetimefield_value
        for position, (name, index) in self.slots.items():
            value = values[name]
            value = value if index is None else value[index]
            params[position] = adapt(value) if isinstance(value, datetime.datetime) else value
        return tuple(params)

    def converters_of(self, expressions) -> dict:
        """The compiler's converters for these columns (each row's values turned into
        Python's), worked out once a shape: Django asks again on every run, a call or two
        a column, and a shape's columns are the same objects every time."""
        key = tuple(map(id, expressions))
        if (found := self.converters.get(key)) is None:
            found = self.converters[key] = self.compiler.get_converters(expressions)
        return found

    def queryset_for(self, values: dict):
        """A queryset that runs this shape's SQL with these values."""
        params = self.bind(values)

        def as_sql(*args, **kwargs):
            if self.sql is None:
                raise EmptyResultSet  # Django's iterables answer it with no rows.
            return self.sql, params

        compiler = _shallow(self.compiler, as_sql=as_sql, get_converters=self.converters_of)
        query = _shallow(
            self.queryset.query, get_compiler=lambda *args, **kwargs: compiler, clone=_refined
        )
        return _shallow(self.queryset, _query=query, _result_cache=None, _prefetch_done=False)


def _refined(*args, **kwargs):
    """A compiled query's clone would carry its SQL along, whatever was added to it."""
    raise TypeError("a compiled query is run as it is: filter, count or slice it in its builder")


def _shallow(thing, **changes):
    """A shallow copy with some attributes changed. Not copy.copy: a queryset's copy
    would run it (QuerySet.__getstate__ fetches its rows)."""
    twin = object.__new__(type(thing))
    twin.__dict__ = thing.__dict__ | changes
    return twin


def compiled(build):
    """Decorate a function of ids, lists of ids or times returning a queryset: the
    decorated function takes the same parameters, by name, and returns a queryset to
    iterate; its `first(...)` returns the first row or None (see the module's
    docstring). The builder's keyword-only parameters choose between shapes (a kind of
    item, whether to annotate): their values are passed as they are and are part of the
    shape, so each value is compiled once."""
    parameters = inspect.signature(build).parameters
    names = tuple(n for n, p in parameters.items() if p.kind is not p.KEYWORD_ONLY)
    shaping = tuple(n for n, p in parameters.items() if p.kind is p.KEYWORD_ONLY)

    @functools.wraps(build)
    def run(**given):
        if set(given) != {*names, *shaping}:
            raise TypeError(f"{build.__name__}() takes {', '.join(names + shaping)}, by name")
        values = {name: _ids(given[name]) for name in names}
        fixed = {name: given[name] for name in shaping}
        shape_key = (
            build,
            *(_length(values[name]) for name in names),
            *(fixed[name] for name in shaping),
        )
        # The wrapper, not django.db.connection (a proxy every thread shares): each
        # thread's connection keeps its own shapes, so no two threads share a compiler.
        connection = connections[DEFAULT_DB_ALIAS]
        shapes = connection.__dict__.setdefault("_compiled_shapes", {})
        if (shape := shapes.get(shape_key)) is None:
            shape = shapes[shape_key] = _compile(build, values, fixed)
        if shape.locks and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        return shape.queryset_for(values)

    def first(**given):
        return next(iter(run(**given)), None)

    run.build = build
    run.first = first
    return run


def padded(ids: list) -> list:
    """`ids` lengthened to the next power of two (at least 8) with its last id again,
    which an `IN` list takes as once: a list whose length varies without end (a page of
    a thread's posts) then compiles a handful of shapes a connection, not one for each
    length it meets."""
    if not ids:
        return ids
    size = max(8, 1 << (len(ids) - 1).bit_length())
    return [*ids, *[ids[-1]] * (size - len(ids))]


def from_columns(model, values: dict):
    """A model instance made as Django makes a row's model (`from_db`), from some of its
    columns by attribute name, the rest at their defaults (made afresh where a default
    is a callable, a dict say): whole, in the model's order, so no column is left to load
    later. For a row that another query brought along (joined, annotated)."""
    names, defaults, fresh = _columns(model)
    row = defaults | {field.attname: field.get_default() for field in fresh} | values
    return model.from_db(DEFAULT_DB_ALIAS, names, [row[name] for name in names])


@functools.cache
def _columns(model) -> tuple[list[str], dict, list]:
    fields = model._meta.concrete_fields
    fresh = [field for field in fields if field.has_default() and callable(field.default)]
    defaults = {field.attname: field.get_default() for field in fields if field not in fresh}
    return [field.attname for field in fields], defaults, fresh


def _ids(value):
    """An id, a list of ids or an aware datetime: model instances become their primary
    keys."""
    if isinstance(value, list | tuple | set | frozenset):
        return [_ids(v) for v in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise TypeError("compiled queries take aware datetimes")
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        pk = getattr(value, "pk", None)
        if not isinstance(pk, int) or isinstance(pk, bool):
            raise TypeError(f"compiled queries take ids, lists of ids or times, not {value!r}")
        return pk
    return value


def _length(value) -> int | None:
    return len(value) if isinstance(value, list) else None


def _compile(build, values: dict, fixed: dict) -> _Shape:
    """Build the queryset with stand-ins, compile it, and find each stand-in."""
    stand_ins = {}
    arguments = {}
    count = 0

    def stand_in(name, index, like):
        nonlocal count
        count += 1
        if isinstance(like, datetime.datetime):
            made = _FIRST_TIME + datetime.timedelta(microseconds=count)
            # Found among the parameters as the database is sent it (SQLite: text).
            stand_ins[connections[DEFAULT_DB_ALIAS].ops.adapt_datetimefield_value(made)] = (
                name,
                index,
            )
            return made
        made = _FIRST_STAND_IN - count
        stand_ins[made] = (name, index)
        return made

    for name, value in values.items():
        if isinstance(value, list):
            arguments[name] = [stand_in(name, i, v) for i, v in enumerate(value)]
        else:
            arguments[name] = stand_in(name, None, value)
    queryset = build(**arguments, **fixed)
    if queryset.db != DEFAULT_DB_ALIAS:
        raise ValueError(f"{build.__name__}: compiled queries run on the default database")
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # `pk__in=[]`: no rows, whatever the other values.
        return _Shape(queryset, compiler, None, (), {})
    slots = {}
    for position, param in enumerate(params):
        if type(param) in (int, str, datetime.datetime) and param in stand_ins:
            slots[position] = stand_ins[param]
        elif isinstance(param, datetime.datetime) or (
            isinstance(param, str) and _TIME_TEXT.fullmatch(param)  # SQLite's times.
        ):
            raise ValueError(
                f"{build.__name__}: a time the builder made itself ({param}) would stay "
                "that moment for good; pass it in as a parameter"
            )
    missing = set(stand_ins.values()) - set(slots.values())
    if missing:
        names = ", ".join(sorted({name for name, _index in missing}))
        raise ValueError(
            f"{build.__name__}: {names} did not reach the SQL as a parameter of its own "
            "(compute with it outside the builder, or do not compile this query)"
        )
    return _Shape(queryset, compiler, sql, tuple(params), slots)
