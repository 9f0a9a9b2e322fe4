"""Several HTTP worker processes behind one listening socket.

One Python process serves on one core at most. With `[http] workers = N` the
parent builds the app once, binds N sockets to the port (SO_REUSEPORT), then
forks a worker per socket; imported code and schemas stay shared
copy-on-write. The kernel hashes each new connection to one socket, so load
spreads evenly; with one shared socket whichever worker woke first took
most of a burst of connections and the others idled.

    parent: config -> app -> N sockets -> fork N -> supervise (signals, restarts)
    worker: uvicorn on its socket -> lifespan (router, store) -> serve

A worker that dies is replaced on the same socket, which the parent holds
open, so connections queued there meanwhile are served, not refused.

What a caller must see as one service is shared, never per worker: provider
health and plans through the state store (SQLite or Redis; `memory` is
refused), the per-token rate limit through shared memory, and metrics through
prometheus_client's multiprocess files. The parent forwards SIGTERM and
SIGINT (each worker then drains as a single service does), starts a new
worker when one dies, and stops when workers keep dying right after start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from types import FrameType

from mcp_bridge.config import BridgeConfig
from mcp_bridge.errors import ConfigError

__all__ = ["Supervisor", "run_workers"]

logger = logging.getLogger(__name__)

_QUICK_EXIT_S = 10.0
_QUICK_EXITS_ALLOWED = 3
_FORWARDED = (signal.SIGTERM, signal.SIGINT)


def run_workers(
    config: BridgeConfig, host: str, port: int, prepare: Callable[[], None]
) -> int:
    """Serve `config` from `config.http.workers` processes (blocks); exit code."""
    from mcp_bridge.protocols import needs_tls, tls_context
    from mcp_bridge.server._service import (
        announce_listener,
        build_service_app,
        serve_service,
    )

    workers = config.http.workers
    if not hasattr(os, "fork") or not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigError(
            f"[http] workers = {workers} needs fork() and SO_REUSEPORT, which "
            f"{sys.platform} lacks; set workers = 1 and run several services "
            "behind a load balancer instead"
        )
    if config.state.strip().lower() == "memory":
        raise ConfigError(
            f"[http] workers = {workers} needs state the workers share: set state "
            '= "sqlite" (the default) or a redis:// URL, or set workers = 1'
        )
    if not config.http.stateless:
        # A session lives in the worker that opened it, and a client's next
        # connection may be accepted by another one.
        raise ConfigError(
            f"[http] workers = {workers} needs stateless HTTP: a session opened "
            "on one worker is unknown to the others; set [http] stateless = "
            "true (the default) or workers = 1"
        )
    if needs_tls(p.base_url for p in config.providers):
        tls_context()  # built now: no thread may be running when we fork
    shared_dir = tempfile.mkdtemp(prefix="multibridge-metrics-")
    try:
        app = build_service_app(config, host=host, shared_dir=shared_dir)
        listeners = _listeners(host, port, workers)
        prepare()

        def serve(slot: int) -> None:
            for index, other in enumerate(listeners):
                if index != slot:
                    other.close()
            serve_service(app, config, host, port, listeners[slot])

        supervisor = Supervisor(
            serve,
            workers,
            on_started=lambda: announce_listener(listeners[0], host, workers),
            on_exit=_forget_metrics(shared_dir),
        )
        return supervisor.run()
    finally:
        shutil.rmtree(shared_dir, ignore_errors=True)


def _listeners(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets listening on one port (the first picks it when 0)."""
    from mcp_bridge.server._service import listen

    first = listen(host, port, announce=False, reuse_port=True)
    bound = first.getsockname()[1]
    return [first] + [
        listen(host, bound, announce=False, reuse_port=True) for _ in range(count - 1)
    ]


class Supervisor:
    """Forks `count` workers, `serve(slot)` each, and keeps them running."""

    def __init__(
        self,
        serve: Callable[[int], None],
        count: int,
        *,
        on_started: Callable[[], None] = lambda: None,
        on_exit: Callable[[int], None] = lambda pid: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._serve = serve
        self._count = count
        self._on_started = on_started
        self._on_exit = on_exit
        self._clock = clock
        self._children: dict[int, tuple[int, float]] = {}
        self._signals = 0
        self._code = 0

    def run(self) -> int:
        """Start the workers and wait for them all to end; the exit code."""
        if threading.active_count() > 1:
            logger.warning(
                "forking workers while other threads run: %s", threading.enumerate()
            )
        previous = {sig: signal.signal(sig, self._forward) for sig in _FORWARDED}
        try:
            for slot in range(self._count):
                self._spawn(slot)
            self._on_started()
            self._watch()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self._code

    def _watch(self) -> None:
        quick_exits = 0
        while self._children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                return
            child = self._children.pop(pid, None)
            if child is None:
                continue
            slot, started = child
            self._on_exit(pid)
            if self._signals:
                continue
            code = os.waitstatus_to_exitcode(status)
            quick = self._clock() - started < _QUICK_EXIT_S
            quick_exits = quick_exits + 1 if quick else 0
            if quick_exits >= _QUICK_EXITS_ALLOWED:
                logger.error(
                    "workers keep exiting right after start (last: %s); stopping "
                    "the service; the worker's error is logged above",
                    _describe(code),
                )
                self._code = 1
                self._forward(signal.SIGTERM, None)
                continue
            replacement = self._spawn(slot)
            logger.warning(
                "worker %d exited (%s); started worker %d in its place",
                pid,
                _describe(code),
                replacement,
            )

    def _spawn(self, slot: int) -> int:
        sys.stderr.flush()
        parent = os.getpid()
        # Blocked across the fork: a signal forwarded before the new worker
        # has reset its handlers would otherwise run the parent's handler in
        # the worker (which would only signal siblings) and be lost there.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED)
        try:
            pid = os.fork()
            if pid == 0:
                for sig in _FORWARDED:
                    signal.signal(sig, signal.SIG_DFL)
                # One that came meanwhile now ends the worker, not yet serving.
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                os._exit(self._work(parent, slot))
            self._children[pid] = (slot, self._clock())
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return pid

    def _work(self, parent: int, slot: int) -> int:
        try:
            # Its own process group: Ctrl-C reaches the parent only, which
            # forwards it once, so that a worker drains instead of dying.
            os.setpgid(0, 0)
            _die_with(parent)
            self._serve(slot)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            logger.exception("worker %d failed", os.getpid())
            return 1
        finally:
            sys.stderr.flush()
        return 0

    def _forward(self, sig: int, _: FrameType | None) -> None:
        # A second signal is forwarded too: uvicorn then stops without draining.
        self._signals += 1
        for pid in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


def _die_with(parent: int) -> None:
    """Have the kernel end this worker if the parent dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        raise SystemExit(0)


def _forget_metrics(directory: str) -> Callable[[int], None]:
    def forget(pid: int) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]

    return forget


def _describe(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit status {code}"
