"""Scheduler / server process of a ps-lite job: MXNet's kvstore server plus commands for optimizer states.

Run as a script (``python .../server.py`` with the ``DMLC_*`` environment), never imported from afflib:
``import mxnet`` in a process whose DMLC_ROLE is server or scheduler starts MXNet's stock server at import
time, so this file hides the role during the import and then runs its own server loop.

With ``update_on_kvstore`` the optimizer and its states (momentum) live on the servers, which is why
``Trainer.save_states`` cannot work on a dist worker. MXNet passes only command head 0 (kController) to the
Python controller, whose body is normally a pickled optimizer; afflib adds bodies ``SAVE_STATES + prefix`` and
``LOAD_STATES + prefix`` (not valid pickles): each server writes/reads ``<prefix>.server<rank>``.
"""
import os
import pickle
import sys

CONTROLLER = 0
SAVE_STATES = b"afflib-save-states:"
LOAD_STATES = b"afflib-load-states:"


def state_path(prefix: str, server_rank: int) -> str:
    """File of one server's optimizer states."""
    return f"{prefix}.server{server_rank}"


def _import_mxnet_quietly():
    role = os.environ.get("DMLC_ROLE", "worker")
    os.environ["DMLC_ROLE"] = "worker"      # keep mxnet's import-time server from starting
    import mxnet
    os.environ["DMLC_ROLE"] = role
    return mxnet


def main() -> int:
    # The optimizer arrives pickled with afflib's learning-rate schedule: afflib must be installed (pip install -e .).
    mx = _import_mxnet_quietly()
    from mxnet.base import _LIB, check_call
    import ctypes

    kv = mx.kv.create("dist")     # the scheduler runs the same loop; it only serves ps-lite's control messages

    def controller(cmd_id, cmd_body, _):
        try:
            if cmd_id != CONTROLLER:
                print(f"server {kv.rank}: unknown command {cmd_id}", flush=True)
            elif cmd_body.startswith(SAVE_STATES):
                path = state_path(cmd_body[len(SAVE_STATES):].decode(), kv.rank)
                tmp = f"{path}.tmp{os.getpid()}"
                with open(tmp, "wb") as handle:
                    handle.write(kv._updater.get_states(dump_optimizer=True))
                os.replace(tmp, path)
            elif cmd_body.startswith(LOAD_STATES):
                path = state_path(cmd_body[len(LOAD_STATES):].decode(), kv.rank)
                with open(path, "rb") as handle:
                    kv._updater.set_states(handle.read())
                os.remove(path)         # tells the worker this server loaded it
            else:
                kv.set_optimizer(pickle.loads(cmd_body))
        except Exception as err:        # noqa: BLE001 - a callback must not raise into C++; the worker checks
            print(f"server {kv.rank}: command failed: {err!r}", flush=True)

    proto = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
    check_call(_LIB.MXKVStoreRunServer(kv.handle, proto(controller), None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
