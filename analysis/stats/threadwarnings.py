"""Record the warnings of one thread: ``warnings.catch_warnings`` is process-wide before Python 3.14.

Stage 03 computes its outcomes in worker threads, and both the stage (which files scipy's
warnings under the row that raised them) and the statistics (which check whether scipy's
noncentral t converged) need the warnings of *their* thread only. A ``catch_warnings`` in one
thread swaps the filters and the hook for all threads, so another thread's warnings land in
the wrong list or are lost (seen: the threads test failed 3 times in 3). Hence one hook that
files each warning under the innermost :func:`recorded` block of the thread that raised it.

* :func:`per_thread` -- around a threaded section (in the thread that starts the workers):
  installs the hook; warnings of threads outside a :func:`recorded` block show as usual.
* :func:`recorded` -- a list that receives every warning raised in this thread inside the
  block; thread-safe inside :func:`per_thread`, and an ordinary ``catch_warnings`` outside it.

>>> import warnings
>>> with recorded() as caught:
...     warnings.warn("did not converge", RuntimeWarning)
>>> [str(w) for w in caught]
['did not converge']
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator

__all__ = ["per_thread", "recorded"]

_local = threading.local()


@contextlib.contextmanager
def per_thread() -> Iterator[None]:
    """Install the per-thread hook for the duration of a threaded section."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        shown = warnings.showwarning

        def dispatch(message, category, filename, lineno, file=None, line=None):
            stack = getattr(_local, "stack", None)
            if stack:
                stack[-1].append(message)
            else:
                shown(message, category, filename, lineno, file, line)

        dispatch.per_thread = True
        warnings.showwarning = dispatch
        yield


@contextlib.contextmanager
def recorded() -> Iterator[list]:
    """The warnings (``Warning`` instances) raised in this thread inside the block, as they come."""
    caught: list = []
    if getattr(warnings.showwarning, "per_thread", False):
        stack = _local.__dict__.setdefault("stack", [])
        stack.append(caught)
        try:
            yield caught
        finally:
            stack.pop()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *args, **kw: caught.append(message)
        yield caught
