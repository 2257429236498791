"""Servers of a test that the local cluster's pods can reach: bound to the cluster's CNI bridge address.

Pods may reach only the bridge subnet (README "Network guards of the local cluster"), and the host's
address on the bridge is the one the host listens on for them; never bind 0.0.0.0 or another address.
`NxdomainServer` answers every DNS query with NXDOMAIN there, for a pod whose template's `dnsConfig`
names it: a name that does not resolve, without a query leaving the machine.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
from types import TracebackType

from kubetask.testing.cluster import Cluster


def bridge_address(cluster: Cluster) -> str:
    """The host's IPv4 address on the cluster's CNI bridge (cluster.sh writes the bridge's name to DIR/bridge)."""
    bridge = (cluster.dir / "bridge").read_text().strip()
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "dev", bridge], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    return out.split(" inet ", 1)[1].split("/", 1)[0]


def _qname(packet: bytes) -> str:
    labels, i = [], 12
    while i < len(packet) and packet[i]:
        n = packet[i]
        labels.append(packet[i + 1 : i + 1 + n].decode("ascii", errors="replace"))
        i += 1 + n
    return ".".join(labels)


class NxdomainServer:
    """A DNS server on `address`:53 (UDP) that says every name does not exist; it records the names asked."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.names: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((address, 53))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet, peer = self._sock.recvfrom(512)
            except TimeoutError:
                continue
            if len(packet) < 12:
                continue
            self.names.append(_qname(packet))
            (ident, flags) = struct.unpack("!HH", packet[:4])
            # QR=1, opcode and RD copied, RA=1, RCODE=3 (NXDOMAIN); the question echoed, no answers
            reply_flags = 0x8000 | (flags & 0x7900) | 0x0080 | 3
            qdcount = struct.unpack("!H", packet[4:6])[0]
            self._sock.sendto(struct.pack("!HHHHHH", ident, reply_flags, qdcount, 0, 0, 0) + packet[12:], peer)

    def __enter__(self) -> NxdomainServer:
        self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
