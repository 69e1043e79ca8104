"""Processes of a parameter-server job, framework-free: which KVStore names join one, the environment a job needs,
and how a process that joined leaves when it fails.

The training engine (``afflib.train``) creates stores and wraps every script's ``main``; the distributed side
(``afflib.distributed``) marks the process as joined. Both import this module, so neither imports the other for it.
"""
from __future__ import annotations

import os
import sys
import traceback
from typing import Any, Callable, List, Optional

__all__ = ["DIST_KVSTORES", "is_distributed", "require_job_environment", "exit_hard_on_failure", "mark_joined",
           "joined_dist_job"]

DIST_KVSTORES = ("dist_sync", "dist_device_sync", "dist_async")
JOB_ENVIRONMENT = ("DMLC_ROLE", "DMLC_PS_ROOT_URI", "DMLC_PS_ROOT_PORT", "DMLC_NUM_WORKER", "DMLC_NUM_SERVER")


def is_distributed(kvstore: Any) -> bool:
    """Whether ``kvstore`` (a name or a KVStore) is one of MXNet's parameter-server stores."""
    name = kvstore if isinstance(kvstore, str) else getattr(kvstore, "type", "")
    return str(name).startswith("dist")


def require_job_environment(kvstore_name: str) -> None:
    """Refuse a ``dist_*`` store outside a launched job, before ps-lite fails with a bare CHECK message."""
    missing = [var for var in JOB_ENVIRONMENT if var not in os.environ]
    if is_distributed(kvstore_name) and missing:
        raise ValueError(f"--kvstore {kvstore_name} joins a parameter-server job, but {', '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} not set: start the script with "
                         f"scripts/launch.py -n WORKERS -s SERVERS -- python ... --kvstore {kvstore_name}")


_JOINED: List[bool] = []


def mark_joined() -> None:
    """Record that this process created a dist_* KVStore (see :func:`exit_hard_on_failure`)."""
    _JOINED.append(True)


def joined_dist_job() -> bool:
    return bool(_JOINED)


def exit_hard_on_failure(main: Callable[[], Optional[int]], always: bool = True) -> int:
    """Run ``main``; if it raises or returns non-zero, print and end the process at once with ``os._exit``.

    A dist worker that leaves normally runs MXNet's kvstore shutdown, a barrier with the other workers, which
    never completes when only this worker stops: it would hang instead of exiting, and the launcher would never
    see it fail. Success returns normally (all workers reach that barrier together). With ``always=False`` the
    hard exit applies only once this process joined a dist job (:func:`joined_dist_job`); otherwise a failure
    leaves through the ordinary ``SystemExit`` / exception.
    """
    if not always:
        try:
            status = main()
        except BaseException:
            if not joined_dist_job():
                raise
            return exit_hard_on_failure(_reraise(sys.exc_info()[1]))
        if status and joined_dist_job():
            return exit_hard_on_failure(lambda: status)
        return status or 0
    try:
        status = main()
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if stop.code not in (None, 0) and not isinstance(stop.code, int):
            print(stop.code, file=sys.stderr)
    except BaseException:       # noqa: BLE001 - any failure must end the process
        traceback.print_exc()
        status = 1
    if status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return 0


def _reraise(error: BaseException) -> Callable[[], None]:
    def again() -> None:
        raise error
    return again
