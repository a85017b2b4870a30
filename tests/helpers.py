"""Helpers the tests share (the data they build is in tests/factories.py): query
counting against the budgets, running a call from several threads at once, and
answering the factories' quiz."""

import threading

from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.services.quizzes import answers_save

# Queries a page may make, and a fragment (an htmx swap, a poll, an autosave).
PAGE_BUDGET = 8
FRAGMENT_BUDGET = 4
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def data_queries(context) -> int:
    """Queries captured, not counting transaction control: PostgreSQL sends it with the
    next statement, and the test transaction adds savepoints production lacks."""
    return sum(1 for q in context.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL))


def page_queries(client, build, sizes, role, url=None) -> list[int]:
    """The data queries of one GET by `role`, in a class built by `build(size)` for each
    size. `url(world)` defaults to the world's item."""
    counts = []
    for size in sizes:
        world = build(size)
        client.force_login(world[role])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(world) if url else world["item"].get_absolute_url())
        assert response.status_code == 200
        counts.append(data_queries(queries))
    return counts


def at_once(call, times: int, *, expected=()) -> list[str]:
    """Start `times` threads that wait at a barrier, then all `call()` together, each on
    its own connection. Returns the errors raised, except those of the `expected`
    types."""
    barrier = threading.Barrier(times)
    errors: list[str] = []

    def run():
        try:
            barrier.wait()
            call()
        except expected:
            pass
        except Exception as error:
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def quiz_slots(attempt) -> dict:
    """The attempt's questions by title."""
    return {s.question.title: s for s in attempt.slots.select_related("question")}


def answer_all_right(attempt, user, seq=None):
    """Answer every question of `make_quiz`'s quiz right (the short text plausibly)."""
    slots = quiz_slots(attempt)
    answers_save(
        attempt_id=attempt.pk,
        user=user,
        seq=seq,
        answers={
            # Choices are posted by their place in the attempt (no shuffle here).
            slots["Partner"].pk: {"choices": ["0"]},
            slots["Levers"].pk: {"choices": ["0", "1"]},
            slots["Researchers"].pk: {"value": "1,650"},
            slots["Owner"].pk: {"value": "false"},
            slots["Argue"].pk: {"value": "It is a D firm with a big lab."},
        },
    )
