"""The test restore of a backup into scratch space, dropped again whatever happens."""

import functools
import gzip
import hashlib
import io
import re
import tarfile
import zlib
from dataclasses import dataclass

from provisioning.backup import MEDIA, checked_dump, copy, load_database
from provisioning.drivers.objectstore import ObjectStore, translated
from provisioning.errors import StepFailed
from provisioning.spec import TenantSpec

# WordPress's own tables under the platform's prefix (wp_, as provisioning/steps/wordpress.py
# reads them): a dump without them brings no site back, however many tables it has.
WORDPRESS_TABLES = ("wp_options", "wp_posts", "wp_users")
CHUNK = 1 << 20  # read in pieces: an archive may be larger than a worker's memory
_MD5 = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Proof:
    """What a test restore showed: the scratch database's tables and the address WordPress
    would answer on, the media files and the files of wp-content read back."""

    tables: int
    siteurl: str
    media: int
    files: int | None  # regular files in the wp-content archive; None: the backup has none

    def words(self) -> str:
        files = "no wp-content archive" if self.files is None else f"{self.files} wp-content files"
        return (
            f"{self.tables} tables with WordPress's own (siteurl {self.siteurl[:200]}), "
            f"{self.media} media files and {files} read back against the manifest"
        )


def scratch_database(spec: TenantSpec) -> str:
    """Where a test restore's database goes: beside the tenants', never one of theirs (wp_…)."""
    return "restoretest_" + spec.slug.replace("-", "_")


def scratch_prefix(spec: TenantSpec) -> str:
    """Where its media go: outside tenants/, so no tenant's keys reach it."""
    return f"restoretest/{spec.slug}/"


def verify_backup(*, spec: TenantSpec, database, store: ObjectStore, prefix: str) -> Proof:
    """Restore the backup into a scratch database and S3 prefix and prove each part: the dump
    loads and has WordPress's tables and its siteurl, every media file restored matches the
    manifest, the wp-content archive matches its checksum and reads to its end as a tar.
    Both scratch places are emptied first (a worker that died left them) and dropped after."""
    scratch, keys = scratch_database(spec), scratch_prefix(spec)
    manifest, dump = checked_dump(store, prefix)
    try:
        _drop(database, store, scratch, keys)
        files = manifest.get("files")
        counted = _read_archive(store, prefix, files) if files else None
        media = _restore_media(store, prefix, manifest.get("media") or [], keys)
        tables, siteurl = _restore_database(database, scratch, dump)
    finally:
        _drop(database, store, scratch, keys)
    return Proof(tables=tables, siteurl=siteurl, media=media, files=counted)


def _drop(database, store: ObjectStore, scratch: str, keys: str) -> None:
    with database.session() as session:
        session.run(f"DROP DATABASE IF EXISTS `{scratch}`")
    store.prefix_delete(keys)


def _restore_database(database, scratch: str, dump: bytes) -> tuple[int, str]:
    with database.session() as session:
        session.run(f"CREATE DATABASE `{scratch}`")
    load_database(database.target, scratch, dump)
    with database.session() as session:
        names = {
            row[0]
            for row in session.rows(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                [scratch],
            )
        }
        if not names:
            raise StepFailed("the restored database has no tables")
        missing = [name for name in WORDPRESS_TABLES if name not in names]
        if missing:
            raise StepFailed(
                f"the restored database lacks WordPress's tables {', '.join(missing)}: "
                "it would not bring the site back"
            )
        rows = session.rows(
            f"SELECT option_value FROM `{scratch}`.wp_options WHERE option_name = %s",  # noqa: S608
            ["siteurl"],
        )
    siteurl = str(rows[0][0]).strip() if rows and rows[0][0] is not None else ""
    if not siteurl:
        raise StepFailed(
            "the restored wp_options has no siteurl: WordPress wouldn't know its address"
        )
    return len(names), siteurl


def _restore_media(store: ObjectStore, prefix: str, media: list[dict], keys: str) -> int:
    """Each media file copied as a restore copies it, then read back: its size and MD5 held
    to the manifest's (an ETag of parts, from an older manifest, is no MD5: its size only)."""
    for entry in media:
        key = entry["key"]
        with translated(f"restore the media file {key} of {prefix} into {keys}"):
            copy(store, prefix + MEDIA + key, keys + key)
            body = store.s3.get_object(Bucket=store.bucket, Key=keys + key)["Body"]
            digest, size = hashlib.md5(usedforsecurity=False), 0
            for chunk in iter(functools.partial(body.read, CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
        if size != entry["size"]:
            raise StepFailed(
                f"the media file {key} of {prefix} is {size} bytes, its manifest says "
                f"{entry['size']}"
            )
        if _MD5.fullmatch(entry.get("etag", "")) and digest.hexdigest() != entry["etag"]:
            raise StepFailed(
                f"the media file {key} of {prefix} doesn't match its manifest's checksum"
            )
    return len(media)


class _Hashing(io.RawIOBase):
    """The archive as read from S3, hashed on the way through."""

    def __init__(self, body) -> None:
        self.body, self.sha256, self.size = body, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.body.read(len(buffer))
        self.sha256.update(data)
        self.size += len(data)
        buffer[: len(data)] = data
        return len(data)


def _read_archive(store: ObjectStore, prefix: str, files: dict) -> int:
    """The wp-content archive is the one its manifest names (SHA-256 and size) and reads as a
    whole tar.gz, every member to its end and the gzip checksum at the end: what a restore Job
    would unpack. Returns how many regular files it holds."""
    where = f"the files archive under {prefix}"
    with translated(f"read {where}"):
        raw = _Hashing(store.s3.get_object(Bucket=store.bucket, Key=prefix + files["file"])["Body"])
        regular, unreadable = 0, None
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unpacked:
                with tarfile.open(fileobj=unpacked, mode="r|") as archive:
                    regular = sum(1 for member in archive if member.isfile())
                while unpacked.read(CHUNK):  # past the tar's end: the gzip trailer checked
                    pass
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            unreadable = exc
        while raw.read(CHUNK):  # all of it hashed, whatever the reading stopped at
            pass
    if raw.sha256.hexdigest() != files["sha256"] or raw.size != files.get("size", raw.size):
        raise StepFailed(f"{where} doesn't match its manifest's checksum")
    if unreadable is not None:
        raise StepFailed(f"{where} can't be unpacked: {unreadable}")
    return regular
