#!/usr/bin/env python3
"""Benchmark `sluice serve` on the local API server (run through serve.sh).

Figures, each beside its peer from the same run:
 1. N apps x M ConfigMaps from one Git repository (served by `git daemon`):
    `sluice serve --once` from nothing to all Synced (wall time, peak RSS),
    against N separate `sluice sync` runs of the same apps (a sample of
    --sync-runs runs, extrapolated to N, said so in the output).
 2. The same, restarted over synced apps: time, and objects written (must be 0).
 3. The long-running service: self-heal latency over --drifts drifts of
    different apps (p50, p99), webhook to applied (p50 over --webhooks
    commits), and a commit touching one app out of N: renders performed
    (from /metrics) and time to Synced; the service's peak RSS (VmHWM).
"""
import argparse, hashlib, hmac, json, os, shutil, socket, ssl, statistics
import atexit, subprocess, sys, tempfile, time, urllib.request

CHILDREN = []
# Stop the git daemon and the service however the script ends.
atexit.register(lambda: [c.kill() for c in CHILDREN if c.poll() is None])

ap = argparse.ArgumentParser()
ap.add_argument("--work", required=True)
ap.add_argument("--apps", type=int, default=1000)
ap.add_argument("--objects", type=int, default=10)
ap.add_argument("--sync-runs", type=int, default=100)
ap.add_argument("--drifts", type=int, default=100)
ap.add_argument("--webhooks", type=int, default=10)
ap.add_argument("--workers", type=int, default=8)
a = ap.parse_args()
SLUICE = os.environ["SLUICE_BIN"]
work = a.work
os.makedirs(work, exist_ok=True)
NS = [f"bench-serve-{i}" for i in range(10)]
NS_SYNC = [f"bench-sync-{i}" for i in range(10)]


def sh(*cmd, ok=(0,), **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode not in ok:
        sys.exit(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr}\n{r.stdout}")
    return r


# --- the API server, for precise drift and latency measurements ----------
kc = json.loads(sh("kubectl", "config", "view", "--raw", "--minify", "-o", "json").stdout)
cl, user = kc["clusters"][0]["cluster"], kc["users"][0]["user"]
ctx = ssl.create_default_context(cafile=cl.get("certificate-authority"))
ctx.load_cert_chain(user["client-certificate"], user["client-key"])
API = cl["server"]


def api(method, path, body=None, ctype="application/merge-patch+json"):
    req = urllib.request.Request(API + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if body is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def cm(ns, name):
    return api("GET", f"/api/v1/namespaces/{ns}/configmaps/{name}")


def rvs(namespaces):
    out = {}
    for ns in namespaces:
        for o in api("GET", f"/api/v1/namespaces/{ns}/configmaps")["items"]:
            out[(ns, o["metadata"]["name"])] = o["metadata"]["resourceVersion"]
    return out


for ns in NS + NS_SYNC:
    sh("kubectl", "create", "namespace", ns, ok=(0, 1))

# --- the repository and the apps ----------------------------------------
repo = os.path.join(work, "repo")
shutil.rmtree(work + "/repo", ignore_errors=True)
os.makedirs(repo)
def cm_yaml(i, j, v="1"):
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-{i}-cm-{j}}}\ndata: {{v: \"{v}\", app: \"{i}\"}}\n"
for i in range(a.apps):
    d = os.path.join(repo, f"apps/app-{i}")
    os.makedirs(d)
    for j in range(a.objects):
        open(os.path.join(d, f"cm-{j}.yaml"), "w").write(cm_yaml(i, j))
git = lambda *args: sh("git", "-C", repo, "-c", "user.name=b", "-c", "user.email=b@x", *args)
git("init", "-q", "-b", "main")
git("add", ".")
git("commit", "-qm", "init")
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={work}",
                           "--listen=127.0.0.1", f"--port={port}", work],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
CHILDREN.append(daemon)
URL = f"git://127.0.0.1:{port}/repo"
time.sleep(0.5)

def app_yaml(name, i, ns):
    return (f"apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\n"
            f"spec:\n  source: {{repoURL: \"{URL}\", targetRevision: main, path: apps/app-{i}}}\n"
            f"  destination: {{namespace: {ns}}}\n"
            f"  syncPolicy: {{automated: {{prune: true, selfHeal: true}}}}\n")
apps = os.path.join(work, "apps")
sync_apps = os.path.join(work, "sync-apps")
for d in (apps, sync_apps):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
for i in range(a.apps):
    open(os.path.join(apps, f"app-{i}.yaml"), "w").write(app_yaml(f"app-{i}", i, NS[i % 10]))
    open(os.path.join(sync_apps, f"app-{i}.yaml"), "w").write(app_yaml(f"sync-{i}", i, NS_SYNC[i % 10]))
state, cache = os.path.join(work, "state"), os.path.join(work, "git-cache")
common = ["--state-dir", state, "--git-cache-dir", cache]


def timed(cmd, ok=(0,)):
    t = time.monotonic()
    r = sh("/usr/bin/time", "-v", *cmd, ok=ok)
    wall = time.monotonic() - t
    rss = next(int(l.split(":")[1]) for l in r.stderr.splitlines() if "Maximum resident set size" in l)
    return wall, rss / 1024, r


# 1. Cold: nothing on the cluster.
once = [SLUICE, "serve", "--once", "--apps", apps, "--workers", str(a.workers),
        "--cluster-concurrency", str(a.workers)] + common
w1, rss1, r = timed(once)
assert f"{a.apps} of {a.apps} apps Synced" in r.stdout, r.stdout[-2000:]
objects = len(rvs(NS))
assert objects == a.apps * a.objects, objects

# 1b. The same apps by separate `sluice sync` runs (a sample).
n = min(a.sync_runs, a.apps)
t = time.monotonic()
for i in range(n):
    sh(SLUICE, "sync", os.path.join(sync_apps, f"app-{i}.yaml"), "--git-cache-dir", cache)
per_sync = (time.monotonic() - t) / n

# 2. Restart over synced apps: nothing written.
before = rvs(NS)
w2, rss2, r = timed(once)
assert f"{a.apps} of {a.apps} apps Synced" in r.stdout
written = sum(1 for k, v in rvs(NS).items() if before.get(k) != v)

# 3. The long-running service.
secret = "bench-secret"
open(os.path.join(work, "secrets.yaml"), "w").write(f"github: {secret}\n")
s = socket.socket(); s.bind(("127.0.0.1", 0)); hport = s.getsockname()[1]; s.close()
base = f"http://127.0.0.1:{hport}"
svc = subprocess.Popen([SLUICE, "serve", "--apps", apps, "--listen", f"127.0.0.1:{hport}",
                        "--refresh-interval", "1h", "--workers", str(a.workers),
                        "--cluster-concurrency", str(a.workers),
                        "--webhook-secrets", os.path.join(work, "secrets.yaml")] + common,
                       stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "w"))
CHILDREN.append(svc)
def get(path):
    with urllib.request.urlopen(base + path) as r:
        return r.read().decode()
def metric(name):
    for l in get("/metrics").splitlines():
        if l.startswith(name + " "):
            return int(l.split()[1])
    return 0
t = time.monotonic()
while True:
    try:
        st = json.loads(get("/api/v1/apps"))
        if len(st) == a.apps and all(x["sync"] == "Synced" and x["health"] == "Healthy" for x in st.values()):
            break
    except OSError:
        pass
    if time.monotonic() - t > 600:
        sys.exit("the service did not report every app Synced and Healthy within 10 min")
    time.sleep(0.2)
ready = time.monotonic() - t

# Self-heal latency: drift one object of each of --drifts apps in turn.
heal = []
for k in range(a.drifts):
    i = (k * 7) % a.apps
    ns, name = NS[i % 10], f"app-{i}-cm-0"
    t = time.monotonic()
    api("PATCH", f"/api/v1/namespaces/{ns}/configmaps/{name}", {"data": {"v": "drift"}})
    while (cm(ns, name) or {}).get("data", {}).get("v") != "1":
        if time.monotonic() - t > 30:
            sys.exit(f"drift of {ns}/{name} not healed within 30 s")
        time.sleep(0.005)
    heal.append(time.monotonic() - t)

# Webhook to applied, and a commit touching one app: renders performed.
hook = []
renders = []
for k in range(a.webhooks):
    i = a.apps - 1 - k
    open(os.path.join(repo, f"apps/app-{i}/cm-0.yaml"), "w").write(cm_yaml(i, 0, f"hook-{k}"))
    git("commit", "-qam", f"app {i}")
    after = git("rev-parse", "HEAD").stdout.strip()
    body = json.dumps({"ref": "refs/heads/main", "after": after,
                       "repository": {"clone_url": URL, "default_branch": "main"}}).encode()
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    r0 = metric("sluice_renders_total")
    t = time.monotonic()
    req = urllib.request.Request(base + "/api/webhook", data=body, method="POST",
                                 headers={"x-github-event": "push", "x-hub-signature-256": sig,
                                          "content-type": "application/json"})
    urllib.request.urlopen(req).read()
    ns = NS[i % 10]
    while (cm(ns, f"app-{i}-cm-0") or {}).get("data", {}).get("v") != f"hook-{k}":
        if time.monotonic() - t > 60:
            sys.exit(f"webhook commit for app-{i} not applied within 60 s")
        time.sleep(0.005)
    hook.append(time.monotonic() - t)
    # Every app was refreshed by the push; wait for the queue to drain.
    ops = metric("sluice_operations_total")
    while True:
        time.sleep(0.5)
        o2 = metric("sluice_operations_total")
        if o2 == ops:
            break
        ops = o2
    renders.append(metric("sluice_renders_total") - r0)

hwm = next(int(l.split()[1]) for l in open(f"/proc/{svc.pid}/status") if l.startswith("VmHWM"))
svc.terminate()
svc.wait(timeout=60)
daemon.terminate()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


N = a.apps
print(f"\n{N} apps x {a.objects} ConfigMaps, one repository (git daemon), {a.workers} workers, release build, 2 cores")
print(f"{'':44} {'sluice serve':>14} {'peer':>16} {'ratio':>7}")
est = per_sync * N
print(f"{'cold: start to all Synced':44} {w1:13.1f}s {est:15.1f}s* {est / w1:6.1f}x")
print(f"{'  peak RSS (--once)':44} {rss1:11.1f}MiB")
print(f"{'restart over synced apps':44} {w2:13.1f}s  objects written: {written}")
print(f"{'service restart: all Synced+Healthy shown':44} {ready:13.1f}s  (statuses from the store)")
print(f"{'self-heal latency p50 / p99 ({} drifts)'.format(len(heal)):44} {pct(heal, 50) * 1000:10.0f} ms / {pct(heal, 99) * 1000:.0f} ms")
print(f"{'webhook to applied p50 ({} commits)'.format(len(hook)):44} {pct(hook, 50) * 1000:10.0f} ms")
print(f"{'renders per one-app commit (of {})'.format(N):44} {statistics.median(renders):13.0f}   (all: {renders})")
print(f"{'service peak RSS (VmHWM)':44} {hwm / 1024:11.1f}MiB")
print(f"* peer: {N} separate `sluice sync` runs, estimated from {n} runs x {N // n} "
      f"({per_sync * 1000:.0f} ms each)")
