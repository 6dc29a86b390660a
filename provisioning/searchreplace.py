"""A site's URLs rewritten in its database as `wp search-replace` does: serialized PHP whole."""

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provisioning.drivers.mariadb import MariaDB

TEXT_TYPES = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext"}


class _NotSerialized(ValueError):
    pass


class Replacement:
    """Several old → new pairs done in one pass over a value: each place is replaced once, by
    the longest old text found there, so a host that is part of another one (or of a new one:
    shop.example and shop.example.staging.example) is never rewritten twice."""

    def __init__(self, pairs: Sequence[tuple[bytes, bytes]]):
        self.table: dict[bytes, bytes] = {}
        for old, new in pairs:
            if old:  # nothing to look for; the first new text given for an old one holds
                self.table.setdefault(old, new)
        if not self.table:
            raise ValueError("a replacement needs some text to replace")
        olds = sorted(self.table, key=len, reverse=True)  # an alternation takes the first match
        self.pattern = re.compile(b"|".join(re.escape(old) for old in olds))

    def found_in(self, data: bytes) -> bool:
        return self.pattern.search(data) is not None

    def plain(self, data: bytes) -> bytes:
        return self.pattern.sub(lambda match: self.table[match.group()], data)


def _number(data: bytes, start: int, end_mark: bytes) -> tuple[int, int]:
    end = data.index(end_mark, start)
    text = data[start:end]
    if not text.lstrip(b"-").isdigit():
        raise _NotSerialized(text)
    return int(text), end + len(end_mark)


def _walk(data: bytes, i: int, change: Replacement) -> tuple[bytes, int]:
    """One serialized value at i, its strings rewritten with their lengths counted again (a
    plain replace leaves s:N: wrong and PHP's unserialize then gives up on the whole option)."""
    kind = data[i : i + 1]
    if kind == b"N" and data[i : i + 2] == b"N;":
        return b"N;", i + 2
    if data[i + 1 : i + 2] != b":":
        raise _NotSerialized(kind)
    if kind in (b"b", b"i", b"d", b"r", b"R"):
        end = data.index(b";", i)
        return data[i : end + 1], end + 1
    if kind == b"s":
        size, start = _number(data, i + 2, b':"')
        body, end = data[start : start + size], start + size
        if data[end : end + 2] != b'";':
            raise _NotSerialized(b"s")
        body = _rewrite_bytes(body, change)  # serialized data inside serialized data
        return b's:%d:"%s";' % (len(body), body), end + 2
    if kind in (b"a", b"O"):
        head_end = i + 2
        name = b""
        if kind == b"O":
            size, start = _number(data, i + 2, b':"')
            name, head_end = data[start : start + size], start + size + 2
        count, j = _number(data, head_end, b":{")
        parts = []
        for _ in range(count * 2):
            part, j = _walk(data, j, change)
            parts.append(part)
        if data[j : j + 1] != b"}":
            raise _NotSerialized(kind)
        head = b"a:%d:{" % count if kind == b"a" else b'O:%d:"%s":%d:{' % (len(name), name, count)
        return head + b"".join(parts) + b"}", j + 1
    raise _NotSerialized(kind)  # C: (a class's own format) and anything else: not ours to parse


def rewrite_value(data: bytes, old: bytes, new: bytes) -> bytes:
    """The value with old replaced by new: inside serialized PHP string by string, else plainly."""
    return _rewrite_bytes(data, Replacement([(old, new)]))


def _rewrite_bytes(data: bytes, change: Replacement) -> bytes:
    if not change.found_in(data):
        return data
    try:
        out, end = _walk(data, 0, change)
    except (_NotSerialized, ValueError, IndexError):
        pass
    else:
        if end == len(data):
            return out
    return change.plain(data)


def rewrite_text(value: str | bytes, pairs: Sequence[tuple[str, str]]) -> str | bytes:
    """A column's value with every pair's old text replaced by its new, in one pass."""
    change = Replacement([(old.encode(), new.encode()) for old, new in pairs])
    text = value if isinstance(value, bytes) else value.encode()
    text = _rewrite_bytes(text, change)
    return text if isinstance(value, bytes) else text.decode()


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def rewrite_database(database: "MariaDB", name: str, pairs: Sequence[tuple[str, str]]) -> int:
    """Every text column of every table with a primary key, rewritten row by row; returns how
    many values changed. A table without a primary key is left alone (WordPress has none)."""
    changed = 0
    with database.session() as session:
        columns = session.rows(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION",
            [name],
        )
        keys: dict[str, list[str]] = {}
        for table, column in session.rows(
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
            "WHERE TABLE_SCHEMA = %s AND CONSTRAINT_NAME = 'PRIMARY' "
            "ORDER BY TABLE_NAME, ORDINAL_POSITION",
            [name],
        ):
            keys.setdefault(table, []).append(column)
        for table, column, kind in columns:
            key = keys.get(table)
            if not key or kind.lower() not in TEXT_TYPES:
                continue
            changed += _rewrite_column(session, name, table, column, key, pairs)
    return changed


def _rewrite_column(session, name, table, column, key, pairs) -> int:
    where = " OR ".join(f"`{column}` LIKE %s" for _ in pairs)
    picked = ", ".join(f"`{k}`" for k in key)
    rows = session.rows(
        f"SELECT {picked}, `{column}` FROM `{name}`.`{table}` WHERE {where}",  # noqa: S608  (names from information_schema)
        [_like(old) for old, _ in pairs],
    )
    match = " AND ".join(f"`{k}` = %s" for k in key)
    changed = 0
    for *ids, value in rows:
        new = rewrite_text(value, pairs)
        if new != value:
            session.run(
                f"UPDATE `{name}`.`{table}` SET `{column}` = %s WHERE {match}",  # noqa: S608
                [new, *ids],
            )
            changed += 1
    return changed
