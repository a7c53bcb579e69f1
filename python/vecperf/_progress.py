"""Progress reporting for long operations (progress=True or a callable)."""

import sys


class _PlainBar:
    """A one-line text bar on stderr, for when tqdm is not installed."""

    def __init__(self, description):
        self._description = description

    def __call__(self, done, total):
        percent = 100.0 * done / total if total else 100.0
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{self._description}: {done}/{total} ({percent:.0f}%){end}")
        sys.stderr.flush()


class _TqdmBar:
    def __init__(self, tqdm, description):
        self._tqdm = tqdm
        self._description = description
        self._bar = None

    def __call__(self, done, total):
        if self._bar is None or self._bar.total != total:
            if self._bar is not None:
                self._bar.close()
            self._bar = self._tqdm(total=total, desc=self._description)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._bar.close()
            self._bar = None


def resolve(progress, description):
    """Returns the callable (done, total) -> None for a `progress` argument, or None.

    True: a progress bar on stderr when it is a TTY (tqdm if installed, else plain text),
    nothing otherwise. A callable is returned as is. None or False: no reporting.
    """
    if progress is None or progress is False:
        return None
    if progress is True:
        if not sys.stderr.isatty():
            return None
        try:
            from tqdm import tqdm
        except ImportError:
            return _PlainBar(description)
        return _TqdmBar(tqdm, description)
    if callable(progress):
        return progress
    raise TypeError(f"progress: expected True, False, None or a callable, got {progress!r}")
