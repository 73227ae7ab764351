#!/usr/bin/env python3
"""Benchmark the powerdns target: N RecordSets in one zone against a real
PowerDNS server (SQLite backend) started here on 127.0.0.1.

Figures (wall time of the whole command, each beside its peer when the peer
is installed):
 1. first sync of the zone and N A records, from an empty server;
 2. a no-change diff (`sluice diff`; octoDNS: `octodns-sync` without
    --doit, which plans and applies nothing).

The peer is octoDNS (`octodns` + `octodns-powerdns` from PyPI) syncing the
same records from a YAML zone file to the same kind of server (a fresh one
per tool). Pass --octodns PATH to its virtualenv's bin directory; without
it only sluice is measured, and the output says so.

Usage: bench/dns_bench.py --sluice target/release/sluice [--records 1000]
       [--octodns ~/.cache/sluice/octodns-venv/bin]
"""
import argparse, atexit, json, os, shutil, socket, subprocess, sys, tempfile, time
import urllib.request

CHILDREN = []
atexit.register(lambda: [c.kill() for c in CHILDREN if c.poll() is None])

ap = argparse.ArgumentParser()
ap.add_argument("--sluice", required=True)
ap.add_argument("--records", type=int, default=1000)
ap.add_argument("--octodns", default=None)
ap.add_argument("--concurrency", type=int, default=32, help="sluice --concurrency")
ap.add_argument("--runs", type=int, default=3, help="runs of each tool (fresh server each); medians are printed")
a = ap.parse_args()

SCHEMA = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"
KEY = "bench-key"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_pdns(work):
    db = os.path.join(work, "pdns.sqlite3")
    subprocess.run(["sqlite3", db, f".read {SCHEMA}"], check=True)
    dns, api = free_port(), free_port()
    log = open(os.path.join(work, "pdns.log"), "w")
    p = subprocess.Popen([
        "/usr/sbin/pdns_server", "--no-config", "--daemon=no", "--guardian=no",
        "--disable-syslog", "--write-pid=no", "--local-address=127.0.0.1",
        f"--local-port={dns}", "--launch=gsqlite3", f"--gsqlite3-database={db}",
        "--api=yes", f"--api-key={KEY}", "--webserver=yes",
        "--webserver-address=127.0.0.1", f"--webserver-port={api}",
        "--webserver-allow-from=127.0.0.0/8", "--cache-ttl=0", "--query-cache-ttl=0",
        "--negquery-cache-ttl=0", "--zone-cache-refresh-interval=0",
        f"--socket-dir={work}",
    ], stdout=log, stderr=log)
    CHILDREN.append(p)
    for _ in range(200):
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{api}/api/v1/servers/localhost",
                                         headers={"X-API-Key": KEY})
            urllib.request.urlopen(req, timeout=1)
            return p, dns, api
        except Exception:
            time.sleep(0.1)
    sys.exit("pdns_server did not start; see " + log.name)


def count_records(api):
    req = urllib.request.Request(
        f"http://127.0.0.1:{api}/api/v1/servers/localhost/zones/example.test.",
        headers={"X-API-Key": KEY})
    z = json.load(urllib.request.urlopen(req))
    return sum(1 for s in z["rrsets"] if s["type"] == "A")


def timed(cmd, **kw):
    t = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return time.monotonic() - t, r


def bench_sluice(n):
    work = tempfile.mkdtemp(prefix="dns-bench-sluice-")
    p, dns, api = start_pdns(work)
    os.makedirs(f"{work}/repo/app")
    os.makedirs(f"{work}/targets")
    with open(f"{work}/targets/dns.yaml", "w") as f:
        f.write("apiVersion: sluice.dev/v1alpha1\nkind: Target\nmetadata: {name: dns}\n"
                f"spec:\n  plugin: {{name: powerdns}}\n  allowedOrigins: [\"http://127.0.0.1:{api}\"]\n"
                "  credentials: {header: X-API-Key, fromEnv: PDNS_API_KEY}\n")
    with open(f"{work}/app.yaml", "w") as f:
        f.write("apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {name: bench}\n"
                "spec:\n  source: {repoURL: repo, path: app}\n  destination: {namespace: dns}\n"
                "  syncPolicy: {syncOptions: [CreateNamespace=true]}\n  targets: [dns]\n")
    with open(f"{work}/repo/app/zone.yaml", "w") as f:
        f.write("apiVersion: dns.sluice.dev/v1alpha1\nkind: Zone\nmetadata:\n  name: example\n"
                "spec: {name: example.test., nameservers: [ns1.example.test.]}\n")
    with open(f"{work}/repo/app/records.yaml", "w") as f:
        for i in range(n):
            f.write("---\napiVersion: dns.sluice.dev/v1alpha1\nkind: RecordSet\n"
                    f"metadata: {{name: r{i}}}\nspec: {{zone: example.test., name: r{i}.example.test., "
                    f"type: A, ttl: 300, records: [192.0.{i // 250}.{i % 250 + 1}]}}\n")
    env = dict(os.environ, PDNS_API_KEY=KEY)
    common = ["app.yaml", "--target", f"dir:{work}/cluster", "--targets", "targets",
              "--concurrency", str(a.concurrency)]
    pre = os.environ.get("SLUICE_BENCH_WRAP", "").split()
    t1, r = timed([*pre, "/usr/bin/time", "-f", "sluice user %U s sys %S s", a.sluice, "sync", *common], cwd=work, env=env)
    print(r.stderr.strip().splitlines()[-1], file=sys.stderr)
    if r.returncode != 0:
        sys.exit(f"sluice sync failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    got = count_records(api)
    assert got == n, f"sluice: {got} records, expected {n}"
    t2, r = timed([a.sluice, "diff", *common], cwd=work, env=env)
    if r.returncode != 0:
        sys.exit(f"sluice diff found differences or failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    p.kill()
    shutil.rmtree(work, ignore_errors=True)
    return t1, t2


def bench_octodns(n, bindir):
    work = tempfile.mkdtemp(prefix="dns-bench-octodns-")
    p, dns, api = start_pdns(work)
    # octoDNS does not create zones: create it through the API, as sluice's Zone does.
    body = json.dumps({"name": "example.test.", "kind": "Native",
                       "nameservers": ["ns1.example.test."]}).encode()
    urllib.request.urlopen(urllib.request.Request(
        f"http://127.0.0.1:{api}/api/v1/servers/localhost/zones", data=body, method="POST",
        headers={"X-API-Key": KEY, "Content-Type": "application/json"}))
    os.makedirs(f"{work}/zones")
    with open(f"{work}/zones/example.test.yaml", "w") as f:
        f.write("---\n")
        for i in range(n):
            f.write(f"r{i}:\n  ttl: 300\n  type: A\n  value: 192.0.{i // 250}.{i % 250 + 1}\n")
    with open(f"{work}/config.yaml", "w") as f:
        f.write("providers:\n  config:\n    class: octodns.provider.yaml.YamlProvider\n"
                f"    directory: {work}/zones\n  pdns:\n    class: octodns_powerdns.PowerDnsProvider\n"
                f"    host: 127.0.0.1\n    port: {api}\n    api_key: env/PDNS_API_KEY\n"
                "zones:\n  example.test.:\n    sources: [config]\n    targets: [pdns]\n")
    env = dict(os.environ, PDNS_API_KEY=KEY)
    sync = os.path.join(bindir, "octodns-sync")
    t1, r = timed([sync, "--config-file", f"{work}/config.yaml", "--doit"], cwd=work, env=env)
    if r.returncode != 0:
        sys.exit(f"octodns-sync failed:\n{r.stderr[-3000:]}")
    got = count_records(api)
    assert got == n, f"octoDNS: {got} records, expected {n}"
    t2, r = timed([sync, "--config-file", f"{work}/config.yaml"], cwd=work, env=env)
    p.kill()
    shutil.rmtree(work, ignore_errors=True)
    return t1, t2


def median_of(f, *args):
    runs = [f(*args) for _ in range(a.runs)]
    firsts = sorted(r[0] for r in runs)
    seconds = sorted(r[1] for r in runs)
    return firsts[len(runs) // 2], seconds[len(runs) // 2]


n = a.records
s1, s2 = median_of(bench_sluice, n)
print(f"{n} RecordSets, one zone, PowerDNS 4 (SQLite backend) on 127.0.0.1; median of {a.runs} runs, each on a fresh server")
print(f"  sluice  first sync {s1:7.2f} s   no-change diff {s2:6.2f} s")
if a.octodns:
    o1, o2 = median_of(bench_octodns, n, a.octodns)
    print(f"  octoDNS first sync {o1:7.2f} s   no-change plan {o2:6.2f} s")
    print(f"  ratio (octoDNS / sluice): first sync {o1 / s1:.2f}x, no-change {o2 / s2:.2f}x"
          " (above 1: sluice faster)")
else:
    print("  octoDNS: not measured (pass --octodns PATH to its virtualenv's bin)")
