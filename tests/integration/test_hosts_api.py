# test_hosts_api.py: one ternd on loopback with its local store (no etcd):
# the API refuses every request without the token, the browser login sets a
# strict session cookie and cookie-authenticated changes need the CSRF token
# from our own origin; VMs are created, paused, resumed and stopped through
# the API, and outlive an agent killed with -9, whose successor adopts them.
import os
import stat
import subprocess
import time

import pytest

from conftest import require_kit, require_tern, TERN
from netns import Agent, TERND, dirty_spec, free_port, pid_alive, wait_until, require_ternd


@pytest.fixture
def agent(tmp_path):
    require_ternd(kit=False)
    a = Agent("solo", "127.0.0.1", free_port(), tmp_path / "state")
    a.start()
    yield a
    a.stop()
    a.kill_vms()


def test_token_and_auth(agent):
    tok = agent.state_dir / "token"
    assert stat.S_IMODE(tok.stat().st_mode) == 0o600
    assert len(agent.token) >= 32
    # No token, a wrong token: 401, and nothing changes.
    assert agent.api("GET", "/api/v1/hosts", token=False)[0] == 401
    st, body = agent.api("POST", "/api/v1/vms", {"name": "x", "spec": dirty_spec()}, token=False)
    assert st == 401 and "error" in body
    assert agent.api("POST", "/api/v1/vms", {"name": "x", "spec": dirty_spec()}, token="0" * 48)[0] == 401
    assert agent.api("DELETE", "/api/v1/vms/x", token=False)[0] == 401
    st, body = agent.api("GET", "/api/v1/vms")
    assert st == 200 and body == {"vms": []}
    # The host is registered, with its figures.
    st, host = agent.api("GET", "/api/v1/host")
    assert st == 200 and host["state"] == "up" and host["mem_total"] > 0 and host["cpus"] >= 1


def test_login_session_csrf(agent):
    # A wrong token opens nothing.
    out = agent.curl("-i", f"{agent.url}/login?token=nope")
    assert out.startswith("HTTP/1.1 401")
    out = agent.curl("-i", f"{agent.url}/login?token={agent.token}")
    head = out.replace("\r\n", "\n").split("\n\n")[0]
    assert head.startswith("HTTP/1.1 303"), head
    assert "Location: /" in head
    cookie = next(line for line in head.split("\n") if line.lower().startswith("set-cookie:"))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    sid = cookie.split(":", 1)[1].split(";")[0].strip()
    jar = [f"Cookie: {sid}"]
    st, sess = agent.api("GET", "/api/v1/session", token=False, headers=jar)
    assert st == 200 and len(sess["csrf"]) == 64
    assert agent.api("GET", "/api/v1/hosts", token=False, headers=jar)[0] == 200
    # A change with the cookie alone (what a cross-site form sends): refused.
    bad = {"name": "c1", "spec": {"kernel": "/nonexistent"}}
    assert agent.api("POST", "/api/v1/vms", bad, token=False, headers=jar)[0] == 403
    # The right CSRF token from another origin: refused.
    csrf = f"X-CSRF-Token: {sess['csrf']}"
    st, _ = agent.api("POST", "/api/v1/vms", bad, token=False,
                      headers=[*jar, csrf, "Origin: http://evil.example"])
    assert st == 403
    # Same origin and the token: the request reaches the API (which then
    # rejects the spec, naming the field).
    st, body = agent.api("POST", "/api/v1/vms", bad, token=False,
                         headers=[*jar, csrf, f"Origin: {agent.url}"])
    assert st == 400 and "kernel" in body["error"]
    # Logged out, the cookie is dead.
    agent.curl(*sum((["-H", h] for h in jar), []), f"{agent.url}/logout")
    assert agent.api("GET", "/api/v1/hosts", token=False, headers=jar)[0] == 401


def test_refusals(tmp_path):
    require_tern()
    r = subprocess.run([str(TERND), "--host", "h", "--listen", "10.1.2.3:8006", "--state-dir",
                        str(tmp_path / "s")], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "not a loopback address" in r.stderr
    r = subprocess.run([str(TERND), "--host", "h", "--listen", "127.0.0.1:1", "--tls-dir", "/x"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--tls-dir /x: cannot load the CA certificate (/x/ca.crt)" in r.stderr
    r = subprocess.run([str(TERND), "--listen", "127.0.0.1:1"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--host" in r.stderr
    r = subprocess.run([str(TERND), "--host", "h", "--listen", "nowhere"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 2 and "HOST:PORT" in r.stderr
    r = subprocess.run([str(TERND), "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--state-dir" in r.stdout


def test_vm_lifecycle_and_adoption(agent):
    require_kit()
    VM = f"agentvm{os.getpid()}"
    # Bad input is named.
    st, body = agent.api("POST", "/api/v1/vms", {"name": "bad/name", "spec": dirty_spec()})
    assert st == 400 and "name" in body["error"]
    st, body = agent.api("POST", "/api/v1/vms", {"name": "v", "spec": {**dirty_spec(), "cpus": 99}})
    assert st == 400 and "cpus" in body["error"]
    st, body = agent.api("POST", "/api/v1/vms", {"name": "v", "spec": {**dirty_spec(), "colour": 1}})
    assert st == 400 and "colour" in body["error"]
    st, body = agent.api("POST", "/api/v1/vms", {"name": VM, "spec": dirty_spec()})
    assert st == 201, body
    assert body["host"] == "solo" and body["state"] in ("starting", "running")
    assert agent.api("POST", "/api/v1/vms", {"name": VM, "spec": dirty_spec()})[0] == 409
    wait_until(lambda: len(agent.ticks(VM)) >= 2, 240, "the guest to count")
    pid = agent.vm_pid(VM)
    # Its control socket is tern's own: `tern list` shows it.
    r = subprocess.run([str(TERN), "list"], capture_output=True, text=True, timeout=30)
    assert VM in r.stdout, r.stdout + r.stderr
    # Pause: the guest stops counting; resume: it goes on.
    st, body = agent.api("POST", f"/api/v1/vms/{VM}/pause")
    assert st == 200 and body["state"] == "paused", body
    r = subprocess.run([str(TERN), "list"], capture_output=True, text=True, timeout=30)
    assert any(VM in line and "paused" in line for line in r.stdout.splitlines()), r.stdout
    n = max(agent.ticks(VM))
    time.sleep(2.5)
    assert max(agent.ticks(VM)) <= n + 1
    st, body = agent.api("POST", f"/api/v1/vms/{VM}/resume")
    assert st == 200 and body["state"] == "running"
    wait_until(lambda: max(agent.ticks(VM)) >= n + 2, 30, "the guest to count again")
    # kill -9 of the agent: the VM runs on; a new agent adopts it.
    agent.kill9()
    n = max(agent.ticks(VM))
    wait_until(lambda: max(agent.ticks(VM)) >= n + 2, 30, "the guest to count without its agent")
    assert pid_alive(pid)
    agent.stop()
    agent.start()
    assert f"adopted VM {VM}" in agent.log_text()
    st, body = agent.api("GET", f"/api/v1/vms/{VM}")
    assert st == 200 and body["pid"] == pid and body["state"] == "running", body
    wait_until(lambda: agent.api("GET", "/api/v1/host")[1]["vms"], 10, "the host record to list v1")
    r = subprocess.run([str(TERN), "host", "list", "--state-dir", str(agent.state_dir)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "solo" in r.stdout and VM in r.stdout, r.stdout + r.stderr
    # Stop (the busybox guest ignores the ACPI-less powerdown: then killed).
    st, body = agent.api("POST", f"/api/v1/vms/{VM}/stop", {"timeout": 2})
    assert st == 200 and body["desired"] == "stopped"
    wait_until(lambda: not pid_alive(pid), 10, "the VM process to end")
    # The record says stopped: a restarted agent does not start it again.
    agent.stop()
    agent.start()
    time.sleep(2)
    assert agent.api("GET", f"/api/v1/vms/{VM}")[1]["state"] == "stopped"
    st, body = agent.api("POST", f"/api/v1/vms/{VM}/start")
    assert st == 200
    wait_until(lambda: agent.vm_pid(VM) and agent.vm_pid(VM) != pid, 10, "a new VM process")
    assert agent.api("DELETE", f"/api/v1/vms/{VM}")[0] == 200
    assert agent.api("GET", f"/api/v1/vms/{VM}")[0] == 404


def test_host_cli_input(agent, tmp_path):
    def tern(*args, env=None):
        return subprocess.run([str(TERN), "host", *args], capture_output=True, text=True, timeout=30,
                              env={**os.environ, **(env or {})})
    r = tern("--help")
    assert r.returncode == 0 and "evacuate" in r.stdout
    r = tern()
    assert r.returncode == 2 and "list, evacuate" in r.stderr
    r = tern("list", "extra", "--state-dir", str(agent.state_dir))
    assert r.returncode == 2 and "extra" in r.stderr
    r = tern("evacuate", "--state-dir", str(agent.state_dir))
    assert r.returncode == 2 and "HOST" in r.stderr
    r = tern("frobnicate", "h1", "--state-dir", str(agent.state_dir))
    assert r.returncode == 2 and "frobnicate" in r.stderr
    r = tern("list", "--state-dir", str(tmp_path / "none"))
    assert r.returncode == 1 and "--etcd" in r.stderr
    r = tern("list", "--etcd", "127.0.0.1:2379")
    assert r.returncode == 2 and "http://" in r.stderr
    r = tern("list", env={"TERN_ETCD": "http://127.0.0.1:1"})
    assert r.returncode == 1 and "127.0.0.1:1" in r.stderr
    # The local store: the one host, up; standby without a command says so.
    r = tern("list", "--json", "--state-dir", str(agent.state_dir))
    assert r.returncode == 0, r.stderr
    hosts = __import__("json").loads(r.stdout)["hosts"]
    assert [(h["name"], h["state"]) for h in hosts] == [("solo", "up")]
    r = tern("standby", "solo", "--state-dir", str(agent.state_dir))
    assert r.returncode == 1 and "--power-cmd-standby" in r.stderr
    r = tern("evacuate", "nosuch", "--state-dir", str(agent.state_dir))
    assert r.returncode == 1 and "no host nosuch" in r.stderr
