"""The webhook receivers' resolver in tests: names answer what a test set, never real DNS."""

import socket

# A public address (example.com's) for any other name, so registering https://hooks.example.org
# works as it does in production; a test that delivers there sets its own answer.
PUBLIC = "93.184.215.14"

# What every machine's hosts file says, whatever a test sets.
HOSTS = {"localhost": ["127.0.0.1", "::1"]}

answers: dict[str, list[str]] = {}

# Answers a name gives in turn, a name whose DNS moves between two lookups: each lookup takes
# the next, and the last one stays.
turns: dict[str, list[list[str]]] = {}


def resolve(host: str, port: int) -> list[str]:
    if host in turns:
        queue = turns[host]
        return list(queue.pop(0) if len(queue) > 1 else queue[0])
    if host in HOSTS or host in answers:
        return list(HOSTS.get(host) or answers[host])
    try:
        # A literal, in any form the system resolver reads (2130706433, 0177.0.0.1, [::1]).
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        return [PUBLIC]
    return [info[4][0] for info in infos]
