"""Fake RAPL counters that move: a thread that advances the energy_uj files of a fake powercap
tree (built by ipw-fake-sysfs) at given wattages, as the kernel's counters would."""
import os
import threading
import time


def energy_path(root, zone):
    return os.path.join(root, "class/powercap", zone, "energy_uj")


class Ramp(threading.Thread):
    """Adds energy to counters every 2 ms: rewritten in place (the collector keeps them open),
    never shorter than before, so a concurrent read sees an old or a new value."""

    def __init__(self, root, rates_w):
        super().__init__(daemon=True)
        self.fds = {}
        self.values = {}
        for zone, watts in rates_w.items():
            path = energy_path(root, zone)
            with open(path) as f:
                self.values[zone] = int(f.read())
            self.fds[zone] = (os.open(path, os.O_WRONLY), watts)
        self.stop = threading.Event()

    def run(self):
        last = time.monotonic()
        while not self.stop.wait(0.002):
            now = time.monotonic()
            for zone, (fd, watts) in self.fds.items():
                self.values[zone] += int(watts * (now - last) * 1e6)
                os.pwrite(fd, b"%d\n" % self.values[zone], 0)
            last = now

    def close(self):
        self.stop.set()
        self.join()
        for fd, _ in self.fds.values():
            os.close(fd)
