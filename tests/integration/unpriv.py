"""Running part of an integration test as nobody (uid/gid 65534), so that file permissions
really apply: the tests run as root here and in CI, and root reads any file whatever its mode.

A checkout under a private directory (mktemp -d makes them 0700) leaves nobody unable to even
start the binary; the permission checks are then skipped with a message instead of failing
for a reason that has nothing to do with ipw."""
import os
import subprocess

NOBODY = 65534


def nobody_can_run(path):
    """True when uid 65534 can execute path (every directory above it searchable)."""
    if os.geteuid() != 0:
        return False
    try:
        r = subprocess.run(["/usr/bin/test", "-x", path], user=NOBODY, group=NOBODY,
                           extra_groups=[], timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0
