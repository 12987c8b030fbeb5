"""bench/qmp.py: the minimal QMP client the benchmark scripts share: connect
(retrying until the VMM has made its socket), negotiate, run commands and
skip asynchronous events."""
import json
import socket
import time


class Qmp:
    def __init__(self, path, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            self.s = socket.socket(socket.AF_UNIX)
            try:
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.002)
        self.f = self.s.makefile("rwb")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg).encode() + b"\n")
        self.f.flush()
        while True:
            m = json.loads(self.f.readline())
            if "event" not in m:
                if "error" in m:
                    raise RuntimeError(f"{name}: {m['error'].get('desc', m['error'])}")
                return m["return"]
