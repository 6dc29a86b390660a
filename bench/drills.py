"""`python -m bench.drills`: the failure drills' long forms (issue 18), through the test drills.

More tenants per drill, and with --production-clocks the portal's default clocks instead of
the tests' short ones (broker visibility 600 s, leases 360 s, beat's sweep every 60 s), so the
recovery times printed are the ones production would see. Prints each drill's lines of what
it did and checked; exits with pytest's status.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DRILLS = "tests/provisioning/test_drills.py"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drills", description=__doc__)
    parser.add_argument("--tenants", type=int, default=20, help="tenants in flight per drill")
    parser.add_argument("--production-clocks", action="store_true", help="the default clocks")
    parser.add_argument("-k", default="", help="only the drills matching (pytest -k)")
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    env = {**os.environ, "PORTAL_DRILL_TENANTS": str(options.tenants)}
    if options.production_clocks:
        env["PORTAL_DRILL_CLOCKS"] = "production"
    command = [sys.executable, "-m", "pytest", DRILLS, "-q", "-s", "-p", "no:logging"]
    if options.k:
        command += ["-k", options.k]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    lines = done.stdout.splitlines()
    print("\n".join(line for line in lines if line.startswith("[drill ")))
    print(lines[-1] if lines else done.stderr[-2000:], file=sys.stderr)
    if done.returncode:
        print(done.stdout[-6000:], file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
