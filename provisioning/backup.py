"""Backing up and restoring a tenant's database and media: a dump and a copy under backups/."""

import contextlib
import gzip
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from provisioning.drivers.mariadb import MariaDBTarget
from provisioning.drivers.objectstore import ObjectStore, translated
from provisioning.errors import StepFailed
from provisioning.files import files_backup, files_restore
from provisioning.spec import TenantSpec

DUMP = "database.sql.gz"
MANIFEST = "manifest.json"
MEDIA = "media/"
TIMEOUT = 600  # seconds a dump or a load may take


# The parts of a backup in the order write_backup takes them (Backup.Phase on the portal's row).
PHASES = ("dump", "upload", "files", "media", "manifest")


@dataclass(frozen=True)
class Written:
    prefix: str
    manifest: dict


def _silent(phase: str, bytes_done: int) -> None:
    """Where nobody follows a backup's progress."""


def backup_prefix(spec: TenantSpec, stamp: str) -> str:
    return f"backups/{spec.slug}/{stamp}/"


@contextlib.contextmanager
def _client_options(target: MariaDBTarget) -> Iterator[str]:
    """An option file for the MariaDB client tools: the password never on a command line."""
    with tempfile.NamedTemporaryFile("w", suffix=".cnf", delete=False) as handle:
        os.chmod(handle.name, 0o600)
        handle.write(
            "[client]\n"
            f"host={target.host}\nport={target.port}\n"
            f"user={target.user}\npassword={target.password}\n"
        )
        if target.tls and target.ca:
            handle.write(f"ssl-ca={target.ca}\n")
    try:
        yield handle.name
    finally:
        os.unlink(handle.name)


def _run(command: list[str], what: str, target: MariaDBTarget, stdin: bytes | None = None):
    try:
        done = subprocess.run(  # noqa: S603  (fixed argument list, no shell)
            command, input=stdin, capture_output=True, timeout=TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StepFailed(f"{what} didn't finish: {exc.__class__.__name__}") from exc
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").replace(target.password or "\0", "<redacted>")
        raise StepFailed(f"{what} failed (exit {done.returncode}): {error.strip()[:500]}")
    return done.stdout


def dump_database(target: MariaDBTarget, database: str) -> bytes:
    """A consistent, compressed dump: one transaction (InnoDB), no table locks."""
    with _client_options(target) as options:
        raw = _run(
            [
                "mariadb-dump",
                f"--defaults-extra-file={options}",
                "--single-transaction",
                "--routines",
                "--triggers",
                "--no-tablespaces",
                database,
            ],
            f"the dump of {database}",
            target,
        )
    return gzip.compress(raw)


def load_database(target: MariaDBTarget, database: str, dump: bytes) -> None:
    with _client_options(target) as options:
        _run(
            ["mariadb", f"--defaults-extra-file={options}", database],
            f"the restore of {database}",
            target,
            stdin=gzip.decompress(dump),
        )


def _objects(store: ObjectStore, prefix: str) -> list[dict]:
    out = []
    for page in store.s3.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=prefix
    ):
        out += [o for o in page.get("Contents", []) if o["Key"].startswith(prefix)]
    return out


def _put(store: ObjectStore, key: str, body: bytes, content_type: str) -> None:
    extra = {"ServerSideEncryption": store.encryption} if store.encryption else {}
    store.s3.put_object(Bucket=store.bucket, Key=key, Body=body, ContentType=content_type, **extra)


def copy(store: ObjectStore, source: str, key: str) -> dict:
    extra = {"ServerSideEncryption": store.encryption} if store.encryption else {}
    return store.s3.copy_object(
        Bucket=store.bucket, Key=key, CopySource={"Bucket": store.bucket, "Key": source}, **extra
    )


def write_backup(
    *,
    spec: TenantSpec,
    target: MariaDBTarget,
    store: ObjectStore,
    stamp: str,
    kube=None,
    progress=_silent,
) -> Written:
    """Dump the database, copy the media and (on a cluster: `kube`, its driver) archive
    wp-content under backups/<slug>/<stamp>/, manifest last (a backup without its manifest is
    not a backup). `progress(phase, bytes_done)` hears each of PHASES as it starts, and the
    bytes written so far as the media are copied."""
    prefix = backup_prefix(spec, stamp)
    progress("dump", 0)
    dump = dump_database(target, spec.db_name)
    with translated(f"write the backup under {prefix}"):
        progress("upload", 0)
        _put(store, prefix + DUMP, dump, "application/gzip")
        files = None
        if kube is not None:
            progress("files", len(dump))
            files = files_backup(spec=spec, driver=kube, store=store, prefix=prefix)
        return _write(spec, store, prefix, stamp, dump, files, progress)


def _write(
    spec: TenantSpec, store: ObjectStore, prefix: str, stamp: str, dump: bytes, files, progress
) -> Written:
    written = len(dump) + (files or {}).get("size", 0)
    progress("media", written)
    media = []
    for obj in _objects(store, spec.s3_prefix):
        relative = obj["Key"][len(spec.s3_prefix) :]
        copied = copy(store, obj["Key"], prefix + MEDIA + relative)
        # The copy's own ETag (an MD5 of its bytes, even where the original was uploaded in
        # parts): the test restore holds the copy to it.
        etag = (copied.get("CopyObjectResult") or {}).get("ETag") or obj["ETag"]
        media.append({"key": relative, "size": obj["Size"], "etag": etag.strip('"')})
        written += obj["Size"]
        progress("media", written)
    progress("manifest", written)
    manifest = {
        "tenant": spec.slug,
        "created": stamp,
        "wordpress_version": spec.wordpress_version,
        "plan": spec.plan.name,
        "database": {
            "file": DUMP,
            "size": len(dump),
            "sha256": hashlib.sha256(dump).hexdigest(),
        },
        "media": media,
        "media_bytes": sum(m["size"] for m in media),
        # wp-content from the volume (themes, plugins, what isn't offloaded); None in plan mode.
        "files": files,
    }
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    _put(store, prefix + MANIFEST, body, "application/json")
    return Written(prefix=prefix, manifest=manifest)


def restore_backup(
    *,
    spec: TenantSpec,
    target: MariaDBTarget,
    store: ObjectStore,
    prefix: str,
    kube=None,
    say=lambda text: None,
) -> dict:
    """Put the database, the media and wp-content back as the backup has them (`say` hears
    which is under way); returns its manifest."""
    say("loading the database")
    manifest = restore_database(spec=spec, target=target, store=store, prefix=prefix)
    with translated(f"put the media of {prefix} back"):
        say("putting the media back")
        _restore_media(spec, store, prefix, manifest)
        files = manifest.get("files")
        if files and kube is None:
            raise StepFailed("the backup has wp-content, but no cluster is configured to put it on")
        if files:
            say("putting wp-content back (a Job in the site's namespace)")
            files_restore(spec=spec, driver=kube, store=store, prefix=prefix, files=files)
    return manifest


def restore_database(
    *, spec: TenantSpec, target: MariaDBTarget, store: ObjectStore, prefix: str
) -> dict:
    """Load the backup's dump into the tenant's database, its checksum checked first."""
    manifest, dump = checked_dump(store, prefix)
    load_database(target, spec.db_name, dump)
    return manifest


def checked_dump(store: ObjectStore, prefix: str) -> tuple[dict, bytes]:
    """The backup's manifest and dump, the dump's checksum held to the manifest's."""
    with translated(f"read the backup under {prefix}"):
        manifest = json.loads(_read(store, prefix + MANIFEST))
        dump = _read(store, prefix + DUMP)
    try:
        expected = manifest["database"]["sha256"]
    except (KeyError, TypeError) as exc:
        raise StepFailed(f"the manifest under {prefix} names no database dump") from exc
    if hashlib.sha256(dump).hexdigest() != expected:
        raise StepFailed(f"the dump under {prefix} doesn't match its manifest's checksum")
    return manifest, dump


def _read(store: ObjectStore, key: str) -> bytes:
    return store.s3.get_object(Bucket=store.bucket, Key=key)["Body"].read()


def _restore_media(spec: TenantSpec, store: ObjectStore, prefix: str, manifest: dict) -> None:
    kept = {m["key"] for m in manifest["media"]}
    for obj in _objects(store, spec.s3_prefix):
        if obj["Key"][len(spec.s3_prefix) :] not in kept:
            store.s3.delete_object(Bucket=store.bucket, Key=obj["Key"])
    for relative in kept:
        copy(store, prefix + MEDIA + relative, spec.s3_prefix + relative)
