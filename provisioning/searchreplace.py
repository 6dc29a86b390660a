"""A site's URLs rewritten in its database as `wp search-replace` does: serialized PHP whole."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provisioning.drivers.mariadb import MariaDB

TEXT_TYPES = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext"}


class _NotSerialized(ValueError):
    pass


def _number(data: bytes, start: int, end_mark: bytes) -> tuple[int, int]:
    end = data.index(end_mark, start)
    text = data[start:end]
    if not text.lstrip(b"-").isdigit():
        raise _NotSerialized(text)
    return int(text), end + len(end_mark)


def _walk(data: bytes, i: int, old: bytes, new: bytes) -> tuple[bytes, int]:
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
        body = rewrite_value(body, old, new)  # serialized data inside serialized data
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
            part, j = _walk(data, j, old, new)
            parts.append(part)
        if data[j : j + 1] != b"}":
            raise _NotSerialized(kind)
        head = b"a:%d:{" % count if kind == b"a" else b'O:%d:"%s":%d:{' % (len(name), name, count)
        return head + b"".join(parts) + b"}", j + 1
    raise _NotSerialized(kind)  # C: (a class's own format) and anything else: not ours to parse


def rewrite_value(data: bytes, old: bytes, new: bytes) -> bytes:
    """The value with old replaced by new: inside serialized PHP string by string, else plainly."""
    if old not in data:
        return data
    try:
        out, end = _walk(data, 0, old, new)
    except (_NotSerialized, ValueError, IndexError):
        pass
    else:
        if end == len(data):
            return out
    return data.replace(old, new)


def _rewrite(value, pairs: Sequence[tuple[str, str]]):
    text = value if isinstance(value, bytes) else value.encode()
    for old, new in pairs:
        text = rewrite_value(text, old.encode(), new.encode())
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
        new = _rewrite(value, pairs)
        if new != value:
            session.run(
                f"UPDATE `{name}`.`{table}` SET `{column}` = %s WHERE {match}",  # noqa: S608
                [new, *ids],
            )
            changed += 1
    return changed
