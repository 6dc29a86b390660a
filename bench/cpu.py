"""CPU seconds of every process a worker round involves, read from /proc, and the bound on
the speed-up they set on this machine's cores."""

import os
import resource
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import redis
from django.db import connections

TICKS = os.sysconf("SC_CLK_TCK")
# Often enough that a PostgreSQL backend's CPU is read shortly before it ends: the worker's
# connections stay open across tasks (PORTAL_TEST_CONN_MAX_AGE in bench_worker_env), so few end
# within a round; with a connection a task, most would end unread and the sum be near 0.
SAMPLE_SECONDS = 0.25


def _stat(path: str) -> list[str] | None:
    """The fields of /proc/<…>/stat after the command name (field 3 is [0]); None once gone."""
    try:
        return Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def own_seconds(pid: int, thread: int | None = None) -> float:
    """User and system CPU seconds of a process (or of one of its threads), 0 once gone."""
    fields = _stat(f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat")
    return (int(fields[11]) + int(fields[12])) / TICKS if fields else 0.0


def backend_seconds(pid: int) -> float:
    """CPU seconds of a single-threaded process in nanoseconds' precision (schedstat's run
    time), else in clock ticks: a PostgreSQL backend's few milliseconds a round would read 0
    in ticks, and a sum of many of them too; 0 once gone."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return own_seconds(pid)


def tree_seconds(pid: int) -> float:
    """CPU seconds of a process, its children that ended (waited for, so counted in its
    cutime/cstime) and its live descendants: a Celery worker and every pool process it had."""
    fields = _stat(f"/proc/{pid}/stat")
    if fields is None:
        return 0.0
    total = sum(int(f) for f in fields[11:15]) / TICKS
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return total + sum(tree_seconds(int(child)) for child in children)


def machine_busy_seconds() -> tuple[float, int]:
    """CPU seconds all cores spent on anything but idle and I/O wait since boot, and the cores."""
    lines = Path("/proc/stat").read_text().splitlines()
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, lines[0].split()[1:9])
    cores = sum(1 for line in lines if line.startswith("cpu") and line[3].isdigit())
    return (user + nice + system + irq + softirq + steal) / TICKS, cores


def redis_seconds(url: str) -> float:
    """The Redis server's CPU seconds since it started (all its databases: every session's)."""
    info = redis.Redis.from_url(url).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


class PostgresBackends(threading.Thread):
    """Samples the CPU of the PostgreSQL backends connected to the bench's database (found in
    pg_stat_activity, read in /proc: the server runs on this machine) until stopped; a backend
    that ends between two samples loses at most SAMPLE_SECONDS of its CPU."""

    def __init__(self):
        super().__init__(daemon=True)
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.readable = True
        self.own_seconds = 0.0
        self._sampled = False
        self._done = threading.Event()

    def run(self) -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                # The server runs elsewhere when its backends are not this machine's processes.
                self.readable = Path(f"/proc/{cursor.fetchone()[0]}").exists()
                while self.readable:
                    self._sample(cursor)
                    if self._done.wait(SAMPLE_SECONDS):
                        break
                if self.readable:
                    self._sample(cursor)
        finally:
            connections["default"].close()
            self.own_seconds = time.thread_time()

    def _sample(self, cursor) -> None:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for (pid,) in cursor.fetchall():
            seconds = backend_seconds(pid)  # 0 for one that ended since the query
            # A backend already there when sampling began counts from then, a new one from 0.
            self.first.setdefault(pid, 0.0 if self._sampled else seconds)
            self.last[pid] = max(seconds, self.last.get(pid, 0.0))
        self._sampled = True

    def seconds(self) -> float:
        return sum(self.last[pid] - self.first.get(pid, 0.0) for pid in self.last)

    def stop(self) -> None:
        self._done.set()
        self.join()


@contextmanager
def cpu_round(worker_pid: int, redis_url: str):
    """Yields a dict that holds, once the block ends, the CPU seconds each part used during it:
    the worker (main and pool processes), the bench process's fake servers and controllers,
    its own main thread (the readiness polls), the approver and other children it ran, the
    bench database's PostgreSQL backends, Redis (shared) and the whole machine."""
    pg = PostgresBackends()
    before = _readings(worker_pid, redis_url)
    load_before, started = os.getloadavg(), time.monotonic()
    pg.start()
    result: dict = {}
    try:
        yield result
    finally:
        pg.stop()
    after = _readings(worker_pid, redis_url)
    used = {k: after[k] - before[k] for k in before}
    cores = machine_busy_seconds()[1]
    fakes = used["bench_process"] - used["bench_main_thread"] - pg.own_seconds
    result.update(
        {
            "wall_seconds": round(time.monotonic() - started, 2),
            "cores": cores,
            "load_average": [round(x, 2) for x in (*load_before, *os.getloadavg())],
            "seconds": {
                "worker": round(used["worker"], 2),
                "fake_servers": round(fakes, 2),
                "postgres_backends": round(pg.seconds(), 2) if pg.readable else None,
                "redis_shared": round(used["redis"], 2),
                "bench_polls": round(used["bench_main_thread"] + pg.own_seconds, 2),
                "approver": round(used["children"], 2),
            },
            "machine_busy_seconds": round(used["machine"], 2),
            "postgres_backends_seen": len(pg.last),
        }
    )


def _readings(worker_pid: int, redis_url: str) -> dict[str, float]:
    me = os.getpid()
    return {
        "worker": tree_seconds(worker_pid),
        "bench_process": own_seconds(me),
        "bench_main_thread": own_seconds(me, me),
        "children": _children_seconds(),
        "redis": redis_seconds(redis_url),
        "machine": machine_busy_seconds()[0],
    }


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bound(rounds: dict, tenants: int, levels: tuple[int, ...]) -> dict:
    """CPU per tenant by part in each round, and the speed-up the machine allows the last
    round: the first's wall time over the last's CPU spread over every core (no faster than
    `levels[-1]` pool processes allow), with and without the fake servers' share (the outside
    systems' CPU is another machine's in production) and with the cores other sessions left."""
    out: dict = {"per_tenant": {}}
    for level, r in rounds.items():
        cpu = r["cpu"]
        parts = {k: v for k, v in cpu["seconds"].items() if v is not None}
        out["per_tenant"][str(level)] = {k: round(v / tenants, 3) for k, v in parts.items()}
        out["per_tenant"][str(level)]["total"] = round(sum(parts.values()) / tenants, 3)
    t1, cpu = rounds[levels[0]]["seconds"], rounds[levels[-1]]["cpu"]
    parts = {k: v for k, v in cpu["seconds"].items() if v is not None}
    ours, fakes = sum(parts.values()), parts["fake_servers"]
    cores, wall = cpu["cores"], cpu["wall_seconds"]
    others = max(cpu["machine_busy_seconds"] - ours, 0.0) / wall  # cores busy with others
    concurrency = levels[-1]

    def speedup(cpu_seconds: float, cores_free: float) -> float:
        fastest = max(cpu_seconds / max(cores_free, 0.1), t1 / concurrency)
        return round(t1 / fastest, 2)

    out.update(
        {
            "cores": cores,
            "other_sessions_cores_busy": round(others, 2),
            "cores_left": round(cores - others, 2),
            "max_speedup_all_cores": speedup(ours, cores),
            "max_speedup_without_fakes": speedup(ours - fakes, cores),
            "max_speedup_cores_left": speedup(ours, cores - others),
            # The fakes answer from one Python process: one core at most, whatever the cores.
            "fake_servers_cores_busy": round(fakes / wall, 2),
        }
    )
    return out
