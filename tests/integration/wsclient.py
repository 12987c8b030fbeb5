# wsclient.py: a minimal WebSocket client (RFC 6455) for tests of ternd's
# console: the opening handshake with chosen headers, masked binary frames
# out, frames in. Only what the tests need; no extensions, no fragmentation.
import base64
import os
import socket
import struct


class WsRefused(Exception):
    def __init__(self, status, head):
        super().__init__(f"handshake refused: {status}")
        self.status, self.head = status, head


class Ws:
    def __init__(self, host, port, path, headers=(), timeout=10):
        self.s = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
               "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
               *headers, "", ""]
        self.s.sendall("\r\n".join(req).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(4096)
            if not chunk:
                break
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        text = head.decode(errors="replace")
        status = int(text.split(" ", 2)[1]) if text.startswith("HTTP/") else 0
        if status != 101:
            self.s.close()
            raise WsRefused(status, text)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        mask = os.urandom(4)
        n = len(data)
        hdr = bytes([0x82])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """(opcode, payload) of the next frame."""
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._need(8))[0]
        mask = self._need(4) if b1 & 0x80 else None
        data = self._need(n)
        if mask:
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        return b0 & 0x0F, data

    def read_until(self, needle, timeout):
        """Everything received until needle appears (bytes), or raises."""
        import time
        got = b""
        deadline = time.monotonic() + timeout
        while needle not in got:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{needle!r} not seen; got {got[-500:]!r}")
            self.s.settimeout(left)
            op, data = self.recv()
            if op == 8:
                raise EOFError(f"closed: {data!r}; got {got[-500:]!r}")
            got += data
        return got

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass
