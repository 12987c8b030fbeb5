# qmp_client.py: a minimal QMP client for the integration tests, the way
# existing QMP tools talk: greeting, qmp_capabilities, execute with ids,
# events collected on the side.
import json
import os
import socket
import time


class QMPError(Exception):
    def __init__(self, cls, desc):
        super().__init__(f"{cls}: {desc}")
        self.cls = cls
        self.desc = desc


class QMP:
    def __init__(self, path, timeout=30, negotiate=True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buf = b""
        self.events = []
        self.next_id = 1
        self.greeting = self.recv()
        if negotiate:
            self.cmd("qmp_capabilities")

    def recv(self, timeout=None):
        """Next message (dict); raises socket.timeout / EOFError."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, name, **args):
        """Sends one command; returns the whole reply (return or error)."""
        rid = self.next_id
        self.next_id += 1
        msg = {"execute": name, "id": rid}
        if args:
            msg["arguments"] = args
        self.send_raw(json.dumps(msg).encode() + b"\n")
        while True:
            m = self.recv()
            if "event" in m:
                self.events.append(m)
                continue
            assert m.get("id") == rid, m
            return m

    def cmd(self, name, **args):
        r = self.request(name, **args)
        if "error" in r:
            raise QMPError(r["error"]["class"], r["error"]["desc"])
        return r["return"]

    def wait_event(self, name, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {name} event in {timeout}s (have {self.events})")
            m = self.recv(timeout=left)
            if "event" in m:
                self.events.append(m)

    def close(self):
        self.sock.close()


def wait_socket(path, proc=None, timeout=60):
    """Waits until the VM's control socket accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"tern exited {proc.returncode} before its socket appeared")
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(path))
                return
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.05)
    raise AssertionError(f"no control socket at {path} after {timeout}s")
