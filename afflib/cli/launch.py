"""Launch a distributed (ps-lite / KVStore dist_*) job: scheduler, servers and workers.

    .venv/bin/python scripts/launch.py -n 2 -s 1 -- .venv/bin/python scripts/train_cifar.py --kvstore dist_sync ...
    .venv/bin/python scripts/launch.py -n 4 -s 4 --launcher ssh -H hosts.txt -- .venv/bin/python scripts/train_imagenet.py ...

Output lines carry a [role slot] prefix. When any process fails, the others get SIGTERM, then SIGKILL after
--timeout-dead seconds, and the launcher exits with the failing process's status (128+N for signal N).
"""
import argparse
import shutil
import sys
import tempfile

from afflib.core.cliargs import int_range, make_parser, positive_float, positive_int
from afflib.distributed.launcher import run_job
from afflib.distributed.plan import local_plan, parse_hostfile, server_command, ssh_plan


def parse_env(items):
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not key.replace("_", "a").isalnum():
            raise ValueError(f"--env expects KEY=VALUE with a variable name as KEY, got {item!r}")
        env[key] = value
    return env


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("-n", "--num-workers", type=positive_int, required=True, help="number of worker processes")
    parser.add_argument("-s", "--num-servers", type=positive_int, default=1,
                        help="number of server processes (default 1)")
    parser.add_argument("--launcher", choices=["local", "ssh"], default="local",
                        help="local: every process on this machine over 127.0.0.1; ssh: per the hostfile")
    parser.add_argument("-H", "--hostfile",
                        help="machines for --launcher ssh (format: see docs/distributed.md; "
                             "default: none)")
    parser.add_argument("--env", action="append", default=[], metavar="K=V",
                        help="extra environment variable for every process (repeatable)")
    parser.add_argument("--timeout-dead", type=positive_float, default=10.0, metavar="S",
                        help="seconds the other processes get to exit after one failed before SIGKILL; "
                             "ssh keepalives also declare a silent machine dead after about S seconds (default 10)")
    parser.add_argument("--port", type=int_range(1, 65535), default=None,
                        help="scheduler port (local default: a free port; ssh default: 9091)")
    parser.add_argument("--python", default=sys.executable,
                        help="Python that runs the scheduler and servers (default: this one)")
    parser.add_argument("--workdir", default=None, help="ssh: directory to cd to on every machine (default: cwd)")
    parser.add_argument("--ssh", default="ssh", help="ssh client command (default: ssh)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- followed by the worker command")
    args = parser.parse_args(argv)

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        env = parse_env(args.env)
        if args.launcher == "local":
            if args.hostfile:
                raise ValueError("-H/--hostfile only applies to --launcher ssh")
            plan = local_plan(args.num_workers, args.num_servers, command, env, args.port,
                              server_command(args.python))
            root = f"127.0.0.1:{plan[0].env['DMLC_PS_ROOT_PORT']}"
        else:
            if not args.hostfile:
                raise ValueError("--launcher ssh needs -H/--hostfile")
            hosts = parse_hostfile(args.hostfile)
            plan = ssh_plan(hosts, args.num_workers, args.num_servers, command, env, args.port or 9091,
                            args.workdir, args.python, args.timeout_dead, args.ssh.split())
            root = f"{hosts[0].address}:{args.port or 9091}"
        if args.timeout_dead <= 0:
            raise ValueError(f"--timeout-dead must be positive seconds, got {args.timeout_dead}")
    except ValueError as err:
        print(f"launch.py: error: {err}", file=sys.stderr)
        return 2

    print(f"[launch] {args.launcher}: scheduler at {root}, {args.num_servers} server(s), {args.num_workers} "
          f"worker(s); a failure stops the job within {args.timeout_dead:g} s", file=sys.stderr, flush=True)
    rank_dir = tempfile.mkdtemp(prefix="afflib-launch-") if args.launcher == "local" else None
    try:
        result = run_job(plan, timeout_dead=args.timeout_dead, rank_dir=rank_dir)
    finally:
        if rank_dir:
            shutil.rmtree(rank_dir, ignore_errors=True)
    if result.status:
        print(f"[launch] job FAILED with status {result.status}: {result.reason}", file=sys.stderr, flush=True)
    else:
        print("[launch] job finished: all workers exited with status 0", file=sys.stderr, flush=True)
    return result.status


def run() -> None:
    """Console-script entry point ``afflib-launch``."""
    sys.exit(main())


if __name__ == "__main__":
    run()
