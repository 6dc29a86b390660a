"""Reaching the test services; a missing one skips locally with a reason and fails in CI."""

import os
import socket

import pytest

POSTGRES = ("127.0.0.1", 5432)
MARIADB = ("127.0.0.1", 3306)
REDIS = ("127.0.0.1", 6379)
MARIADB_URL = os.environ.get("PORTAL_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/")
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def listening(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def require(name: str, address: tuple[str, int]) -> None:
    if listening(address):
        return
    message = (
        f"{name} is not listening on {address[0]}:{address[1]}; scripts/services.sh starts it."
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
