"""TCP relays: the endpoints of the lab's logical databases.

A logical database is an RDS identity of its own (DB instance or cluster in moto,
its own resource id and IAM flag) served by one of the lab's real servers. Its
endpoint is a relay on a free 127.0.0.1 port that copies bytes both ways to the
real server, untouched: TLS stays end to end and the server's certificate
(SAN IP:127.0.0.1) still matches the host name the client dialled.

The relay opens its upstream connections from a loopback source address of its
own (``127.1.x.y``, all of 127.0.0.0/8 is local on Linux). The server therefore
sees which endpoint a client dialled and tells the verifier (MariaDB plugin:
the client address; PostgreSQL: one ``pg_hba.conf`` line per source address whose
LDAP DN names the logical database). RDS checks a token against the endpoint of
the instance the client connected to ("the token is signed for the host name and
port of the DB instance", AWS RDS user guide, "Connecting to your DB instance
using IAM authentication"), so the lab must know it too.

One asyncio loop in one thread serves every relay of the daemon.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
from dataclasses import dataclass, field

LOG = logging.getLogger("lab.relay")

#: Source addresses of the relays' upstream connections (never 127.0.0.1: that one means "dialled the server").
SOURCE_NETWORK = ipaddress.ip_network("127.1.0.0/16")
CHUNK = 65536


@dataclass
class Relay:
    name: str
    port: int
    upstream: tuple[str, int]
    source_ip: str
    server: asyncio.base_events.Server | None = None
    connections: set = field(default_factory=set)


class RelayHub:
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lab-relays", daemon=True)
        self._thread.start()
        self._relays: dict[str, Relay] = {}
        self._lock = threading.Lock()
        self._next_source = 1

    # -- public (any thread) ---------------------------------------------------
    def add(self, name: str, upstream: tuple[str, int]) -> Relay:
        """Listen on a free port for `name`, relaying to `upstream`; idempotent per name."""
        with self._lock:
            relay = self._relays.get(name)
            if relay is not None:
                return relay
            source_ip = self._allocate_source()
            relay = Relay(name=name, port=0, upstream=upstream, source_ip=source_ip)
            self._run(self._listen(relay))
            self._relays[name] = relay
        LOG.info("relay %s: 127.0.0.1:%s -> %s:%s (source %s)", name, relay.port, upstream[0], upstream[1],
                 source_ip)
        return relay

    def remove(self, name: str) -> bool:
        """Stop listening and drop the relay's open connections (as a deleted instance does)."""
        with self._lock:
            relay = self._relays.pop(name, None)
        if relay is None:
            return False
        self._run(self._close(relay))
        LOG.info("relay %s removed", name)
        return True

    def rename(self, old: str, new: str) -> Relay:
        """The same listener and source address under another name (a database renamed by a switchover)."""
        with self._lock:
            if new in self._relays:
                raise ValueError(f"relay {new!r} exists")
            relay = self._relays.pop(old)
            relay.name = new
            self._relays[new] = relay
        LOG.info("relay %s renamed %s", old, new)
        return relay

    def get(self, name: str) -> Relay | None:
        with self._lock:
            return self._relays.get(name)

    def by_source(self, source_ip: str) -> Relay | None:
        with self._lock:
            return next((r for r in self._relays.values() if r.source_ip == source_ip), None)

    def stop(self) -> None:
        with self._lock:
            relays = list(self._relays.values())
            self._relays.clear()
        for relay in relays:
            try:
                self._run(self._close(relay))
            except Exception:  # stopping anyway
                pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    # -- internals -------------------------------------------------------------
    def _allocate_source(self) -> str:
        in_use = {r.source_ip for r in self._relays.values()}
        for _attempt in range(SOURCE_NETWORK.num_addresses):
            candidate = str(SOURCE_NETWORK.network_address + self._next_source)
            self._next_source = self._next_source % (SOURCE_NETWORK.num_addresses - 2) + 1
            if candidate not in in_use:
                return candidate
        raise RuntimeError("no free relay source address")

    def _run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _listen(self, relay: Relay) -> None:
        relay.server = await asyncio.start_server(lambda r, w: self._serve(relay, r, w), self.host, 0)
        relay.port = relay.server.sockets[0].getsockname()[1]

    async def _close(self, relay: Relay) -> None:
        if relay.server is not None:
            relay.server.close()
        for writer in list(relay.connections):
            writer.close()
        if relay.server is not None:
            await relay.server.wait_closed()

    async def _serve(self, relay: Relay, client_reader, client_writer) -> None:
        relay.connections.add(client_writer)
        upstream_writer = None
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                relay.upstream[0], relay.upstream[1], local_addr=(relay.source_ip, 0))
            relay.connections.add(upstream_writer)
            await asyncio.gather(self._pipe(client_reader, upstream_writer),
                                 self._pipe(upstream_reader, client_writer))
        except (OSError, asyncio.CancelledError) as exc:
            LOG.debug("relay %s: connection ended: %s", relay.name, type(exc).__name__)
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    relay.connections.discard(writer)
                    writer.close()

    @staticmethod
    async def _pipe(reader, writer) -> None:
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except OSError:
            writer.close()
            return
        # half-close: the other direction may still carry the last bytes
        try:
            if writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()
        except OSError:
            writer.close()
