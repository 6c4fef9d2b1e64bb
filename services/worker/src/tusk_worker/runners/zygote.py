"""The zygote: a tiny stdlib-only process that lives inside a datum sandbox and spawns transforms.

Started once per sandbox (`python -S zygote.py FD`), it receives spawn requests on a SOCK_SEQPACKET
socket, each with the child's stdin/stdout/stderr as passed file descriptors, `posix_spawn`s the
program in its own session and reports its pid, then its exit code. So the namespace is set up once
and each datum costs one spawn, not a new sandbox. It exits when the worker closes the socket.
"""

import json
import os
import select
import signal
import socket
import sys

MAX_MSG = 1 << 20


def _send(sock, obj):
    sock.send(json.dumps(obj).encode())


def _spawn(req, fds):
    stdin, stdout, stderr = fds[:3]
    try:
        cwd = req.get("cwd") or "/"
        os.chdir(cwd)
        pid = os.posix_spawnp(
            req["argv"][0], req["argv"], req["env"],
            file_actions=[(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, stdout, 1),
                          (os.POSIX_SPAWN_DUP2, stderr, 2)],
            setsid=True, setsigdef=(signal.SIGPIPE, signal.SIGCHLD, signal.SIGINT, signal.SIGTERM),
        )
        return {"pid": pid}
    except OSError as exc:
        return {"error": f"{req['argv'][0]}: {exc.strerror or exc}", "code": 127 if isinstance(exc, FileNotFoundError) else 126}
    finally:
        os.chdir("/")
        for fd in fds:
            os.close(fd)


def _reap(sock):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(sock, {"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def main():
    sock = socket.socket(fileno=int(sys.argv[1]))
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    _send(sock, {"ready": os.getpid()})
    while True:
        try:
            ready, _, _ = select.select([sock.fileno(), wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
            _reap(sock)
        if sock.fileno() in ready:
            msg, fds, _, _ = socket.recv_fds(sock, MAX_MSG, 8)
            if not msg:
                return
            req = json.loads(msg)
            if req["op"] == "spawn":
                _send(sock, _spawn(req, fds))
            elif req["op"] == "kill":
                for fd in fds:
                    os.close(fd)
                try:
                    os.killpg(req["pid"], req["sig"])
                except (ProcessLookupError, PermissionError):
                    pass
            _reap(sock)


if __name__ == "__main__":
    main()
