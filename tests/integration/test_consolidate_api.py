# test_consolidate_api.py: one ternd on loopback with its local store and no
# VMs: the settings endpoint (defaults, merging, refusals naming the field),
# plan and report shapes (a single host is never put on standby), the power
# model in the host record, and refusals of bad ternd and tern consolidate
# flags. The live behaviour is test_consolidate_live.py's.
import json
import subprocess

import pytest

from conftest import TERN, require_tern
from netns import Agent, TERND, free_port, wait_until, require_ternd


@pytest.fixture
def agent(tmp_path):
    require_ternd(kit=False)
    a = Agent("solo", "127.0.0.1", free_port(), tmp_path / "state",
              extra=["--power-table", "50,60,70,80,90,100,110,120,130,140,150", "--power-standby", "3",
                     "--capacity-cpus", "2", "--history-interval", "1", "--power-cmd-standby", "true"])
    a.start()
    yield a
    a.stop()


def tern(agent, *args):
    return subprocess.run([str(TERN), "consolidate", *args, "--state-dir", str(agent.state_dir)],
                          capture_output=True, text=True, timeout=60)


def test_settings(agent):
    st, s = agent.api("GET", "/api/v1/settings")
    assert st == 200
    assert s["migration"] == {"downtime_ms": 300, "bandwidth_mbps": 0, "mode": "precopy"}
    assert s["consolidate"]["policy"] == "tern" and s["consolidate"]["interval_s"] == 300
    st, s = agent.api("POST", "/api/v1/settings", {"consolidate": {"low_watermark": 0.3, "policy": "lr-mmt"},
                                                    "migration": {"mode": "postcopy"}})
    assert st == 200 and s["consolidate"]["low_watermark"] == 0.3 and s["migration"]["mode"] == "postcopy"
    assert s["migration"]["downtime_ms"] == 300      # merged, not replaced
    for bad, field in (({"consolidate": {"low_watermark": 2}}, "consolidate.low_watermark"),
                       ({"consolidate": {"policy": "greedy"}}, "consolidate.policy"),
                       ({"migration": {"downtime_ms": "fast"}}, "migration.downtime_ms"),
                       ({"migration": {"speed": 1}}, "migration.speed"),
                       ({"power": {}}, "power")):
        st, body = agent.api("POST", "/api/v1/settings", bad)
        assert st == 400 and field in body["error"], (bad, body)
    st, s = agent.api("GET", "/api/v1/settings")
    assert s["consolidate"]["policy"] == "lr-mmt"     # refusals changed nothing


def test_plan_report_and_host_record(agent):
    st, h = agent.api("GET", "/api/v1/host")
    assert st == 200 and h["power_model"]["table_w"][10] == 150 and h["capacity_cpus"] == 2
    st, plan = agent.api("POST", "/api/v1/consolidate/plan")
    assert st == 200, plan
    assert plan["migrations"] == [] and plan["standby"] == [] and plan["wake"] == []   # one host stays on
    assert plan["power_now_w"] == 50 and plan["saving_kwh_per_day"] == 0
    assert agent.api("POST", "/api/v1/consolidate/plan", {"policy": "greedy"})[0] == 400
    wait_until(lambda: agent.api("GET", "/api/v1/consolidate/report?window=60")[1]["energy_kwh"] > 0, 20,
               "a history sample")
    st, rep = agent.api("GET", "/api/v1/consolidate/report?window=60")
    assert st == 200 and rep["migrations"] == 0 and rep["energy_kwh"] == rep["baseline_kwh"]
    assert set(rep["series"]) == {"time", "energy_kwh", "baseline_kwh", "migrations", "standby_hosts"}
    assert agent.api("GET", "/api/v1/consolidate/report?window=abc")[0] == 400
    r = tern(agent, "plan")
    assert r.returncode == 0 and "nothing to do" in r.stdout, r.stderr
    r = tern(agent, "report", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["migrations"] == 0
    r = tern(agent, "apply", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["failed"] == 0


def test_bad_flags(tmp_path):
    require_tern()
    for args, word in ((["--power-table", "1,2,3"], "--power-table"),
                       (["--power-idle", "200", "--power-peak", "100"], "power model"),
                       (["--capacity-cpus", "0"], "--capacity-cpus"),
                       (["--auto-consolidate", "soon"], "--auto-consolidate")):
        r = subprocess.run([str(TERND), "--host", "x", "--state-dir", str(tmp_path), *args],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 2 and word in r.stderr, (args, r.stderr)
    for args, word in ((["plan", "--max-parallel", "2"], "--max-parallel"),
                       (["apply", "--max-parallel", "0"], "--max-parallel"),
                       (["report", "--window", "-1"], "--window"),
                       (["plan", "--bogus"], "--bogus")):
        r = subprocess.run([str(TERN), "consolidate", *args], capture_output=True, text=True, timeout=10)
        assert r.returncode == 2 and word in r.stderr, (args, r.stderr)
    r = subprocess.run([str(TERN), "consolidate", "plan", "--policy", "greedy", "--state-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
