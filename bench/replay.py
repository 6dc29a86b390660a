"""A bare script making the engine's outside calls again, to test servers of its own: the floor."""

import time

import urllib3


class Replay:
    """Fresh Kubernetes and Authentik test servers, as slow as the engine's, and a script that
    sends them a recorded list of calls; kept up across rounds, as the engine's are."""

    def __init__(self, tmp_dir, latency: float):
        from tests.fakes.authentik import FakeAuthentik
        from tests.fakes.kube import FakeKube

        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.kube = FakeKube().start(kubeconfig_dir=tmp_dir)
        self.authentik = FakeAuthentik().start()
        self.kube.latency = self.authentik.latency = latency
        self.pool = urllib3.PoolManager(retries=False)
        self.auth = {"Authorization": f"Bearer {self.authentik.token}"}
        self.kube_auth = {"Authorization": "Bearer fake-token"}

    def close(self) -> None:
        self.kube.stop()
        self.authentik.stop()

    def run(self, kube_calls, authentik_calls, marks) -> float:
        """Seconds the calls take, in order, the cluster catching up before the call indices in
        `marks` as it did for the engine (not timed: the bench's, not the script's); raises when
        the servers did not see exactly those calls."""
        kube, authentik, marks = self.kube, self.authentik, set(marks)
        first_kube, first_authentik = len(kube.requests), len(authentik.requests)
        spent = 0.0
        for i, (method, path, kind, body) in enumerate(kube_calls):
            if i in marks:
                kube.mark_ready()
            headers = {**self.kube_auth, **({"Content-Type": kind} if kind else {})}
            start = time.perf_counter()
            self.pool.request(method, kube.url + path, body=body or None, headers=headers)
            spent += time.perf_counter() - start
        start = time.perf_counter()
        for method, path, body in authentik_calls:
            headers = {**self.auth, **({"Content-Type": "application/json"} if body else {})}
            self.pool.request(method, authentik.url + path, body=body or None, headers=headers)
        spent += time.perf_counter() - start
        _same("Kubernetes", kube_calls, kube.requests[first_kube:])
        _same("Authentik", authentik_calls, authentik.requests[first_authentik:])
        return spent


def _same(system: str, calls, seen) -> None:
    asked = [(c[0], c[1].split("?")[0]) for c in calls]
    if asked != [(m, p.split("?")[0]) for m, p in seen]:
        raise RuntimeError(f"the replay's {system} calls differ from the engine's")
