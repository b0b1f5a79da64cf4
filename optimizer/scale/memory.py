"""Peak memory of a process tree: the driver and the dask workers it started."""

from __future__ import annotations

import threading

import psutil

# How often the memory of the process tree is sampled.
SAMPLE_EVERY_S = 0.2


class PeakRss:
    """Peak of the summed resident memory of this process and all its descendants
    (dask worker processes included), sampled every ``SAMPLE_EVERY_S`` in a thread."""

    def __init__(self):
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue  # ended between the listing and the reading
        self.peak_bytes = max(self.peak_bytes, total)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self._sample()

    def __enter__(self) -> PeakRss:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def mb(self) -> float:
        return self.peak_bytes / 2**20
