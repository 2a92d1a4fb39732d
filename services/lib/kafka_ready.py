"""Exit 0 iff a Kafka broker at HOST:PORT answers a Metadata request listing >= 1 broker.

Stdlib only (used by services/kafka.sh before any venv exists). Speaks the wire
protocol directly: ApiVersions v0 to learn the supported Metadata versions, then
a non-flexible Metadata request (v4..v8) for all topics.
"""
import socket
import struct
import sys

API_METADATA, API_VERSIONS = 3, 18


def _request(sock, api_key, version, corr, body):
    client = b"kairos-ready"
    header = struct.pack(">hhih", api_key, version, corr, len(client)) + client
    msg = header + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    size = struct.unpack(">i", _read(sock, 4))[0]
    data = _read(sock, size)
    if struct.unpack(">i", data[:4])[0] != corr:
        raise RuntimeError("correlation id mismatch")
    return data[4:]


def _read(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk
    return buf


def main(host, port):
    with socket.create_connection((host, int(port)), timeout=3) as sock:
        data = _request(sock, API_VERSIONS, 0, 1, b"")
        err, n = struct.unpack(">hi", data[:6])
        if err:
            raise RuntimeError(f"ApiVersions error {err}")
        versions = {}
        for i in range(n):
            key, lo, hi = struct.unpack(">hhh", data[6 + 6 * i: 12 + 6 * i])
            versions[key] = (lo, hi)
        lo, hi = versions[API_METADATA]
        v = min(hi, 8)
        if v < max(lo, 4):
            raise RuntimeError(f"no usable Metadata version in {lo}..{hi}")
        body = struct.pack(">ib", -1, 0)  # all topics, no auto-create
        if v >= 8:
            body += struct.pack(">bb", 0, 0)
        data = _request(sock, API_METADATA, v, 2, body)
        brokers = struct.unpack(">i", data[4:8])[0]  # after throttle_time_ms
        if brokers < 1:
            raise RuntimeError("metadata lists no broker")
        print(f"kafka ready: metadata v{v}, {brokers} broker(s)")


if __name__ == "__main__":
    try:
        main(*sys.argv[1].rsplit(":", 1))
    except Exception as e:  # noqa: BLE001 - any failure means "not ready"
        print(f"kafka not ready: {e}", file=sys.stderr)
        sys.exit(1)
