"""Django's PostgreSQL backend with a health check that costs no round trip.

With `CONN_HEALTH_CHECKS`, Django checks a reused connection before each request's
first query by running `SELECT 1` on it: one round trip more on every request, the
cheapest page included, and a query more for PostgreSQL to answer each time (a fifth
of the queries of `make bench`'s mix). A connection that a restart, a terminated
backend or a pooler's restart has cut needs no question to be found out: the server
said so as it ended the session (an error, then the end of the stream), and what it
said waits on the socket. An idle connection has nothing to read, so anything to read
means the session is over, and the connection is closed and made again (so is one
that psycopg already knows to be closed or broken). A server that vanished without a
word (a host lost, a cable cut) is found out by the request's first query, as it was
by `SELECT 1`: it fails, and the connection is closed at the end of that request.
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        return not _readable(connection.fileno())


def _readable(fd: int) -> bool:
    """Whether the socket has something to read now, without waiting (poll, which,
    unlike select, takes any file descriptor)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
