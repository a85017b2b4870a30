"""Run the same call from several threads at once, each on its own connection."""

import threading

from django.db import connection


def at_once(call, times: int, *, expected=()) -> list[str]:
    """Start `times` threads that wait at a barrier, then all `call()` together. Returns
    the errors raised, except those of the `expected` types."""
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
