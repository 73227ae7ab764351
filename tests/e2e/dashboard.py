"""Drive the sluice dashboard in Debian's chromium (Playwright for Python).

Run by tests/e2e/api.rs against a real `serve`; everything comes from the
environment: BASE, TOKEN (write), NS, KUBECONFIG, SHOTS (screenshot dir),
C1 (the short commit the rollback must reach).
"""
import json
import os
import subprocess
import urllib.request

from playwright.sync_api import expect, sync_playwright

BASE, TOKEN, NS = os.environ["BASE"], os.environ["TOKEN"], os.environ["NS"]
SHOTS, C1 = os.environ["SHOTS"], os.environ["C1"]
expect.set_options(timeout=30_000)


def api(method, path, body=None):
    req = urllib.request.Request(BASE + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"authorization": "Bearer " + TOKEN,
                                          "content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def kubectl(*args):
    subprocess.run(["kubectl", "--kubeconfig", os.environ["KUBECONFIG"], *args],
                   check=True, capture_output=True)


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto(BASE + "/")
    # No token yet: the page asks for one.
    expect(page.locator("#login")).to_be_visible()
    page.fill("#token", TOKEN)
    page.click("#save")
    expect(page.locator("#login")).to_be_hidden()

    # The list shows what the API says.
    apps = api("GET", "/api/v1/apps")
    expect(page.locator("#apps tbody tr")).to_have_count(len(apps))
    for name, a in apps.items():
        row = page.locator(f'tr[data-app="{name}"]')
        expect(row.locator("td.sync")).to_contain_text(a["sync"])
        expect(row.locator("td.health")).to_contain_text(a["health"])
    page.screenshot(path=os.path.join(SHOTS, "list.png"))

    # Filters.
    out_of_sync = [n for n, a in apps.items() if a["sync"] == "OutOfSync"]
    page.select_option("#f-sync", "OutOfSync")
    expect(page.locator("#apps tbody tr")).to_have_count(len(out_of_sync))
    page.select_option("#f-sync", "")
    page.fill("#f-text", "live")
    expect(page.locator("#apps tbody tr")).to_have_count(1)
    page.fill("#f-text", "")

    # 1,000 apps: the list renders and filters in well under a second
    # (synthetic apps in the page's state; layout forced inside the timing).
    ms = page.evaluate("""() => {
      const saved = state.apps, apps = {};
      for (let i = 0; i < 1000; i++) {
        const n = 'app-' + String(i).padStart(4, '0');
        apps[n] = {name: n, sync: i % 3 ? 'Synced' : 'OutOfSync', health: 'Healthy',
                   revision: 'c'.repeat(40), spec: {namespace: 'ns'}, conditions: []};
      }
      state.apps = apps;
      const t0 = performance.now(); listView(); document.body.offsetHeight;
      const t1 = performance.now(); state.filter.sync = 'OutOfSync'; listView(); document.body.offsetHeight;
      const t2 = performance.now();
      const shown = document.querySelectorAll('#apps tbody tr').length;
      state.apps = saved; state.filter.sync = ''; listView();
      return [t1 - t0, t2 - t1, shown];
    }""")
    print(f"1000 apps: list rendered in {ms[0]:.0f} ms, filtered in {ms[1]:.0f} ms")
    assert ms[2] == 334, ms
    assert ms[0] < 500 and ms[1] < 500, ms

    # A drift shows up live: OutOfSync while paused, Synced once resumed
    # and healed; the page is never reloaded.
    page.evaluate("window.__same_page = true")
    api("POST", "/api/v1/apps/live/pause", {})
    kubectl("patch", "configmap", "live", "-n", NS, "--type", "merge", "-p", '{"data":{"v":"drift"}}')
    live = page.locator('tr[data-app="live"] td.sync')
    expect(live).to_contain_text("OutOfSync")
    page.screenshot(path=os.path.join(SHOTS, "drift.png"))
    api("POST", "/api/v1/apps/live/resume", {})
    expect(live).to_contain_text("Synced")
    expect(live).not_to_contain_text("OutOfSync")
    assert page.evaluate("window.__same_page") is True, "the page was reloaded"

    # Rollback from the button on the app page.
    page.goto(BASE + "/#/app/hist")
    expect(page.locator("#history button.rollback")).to_have_count(2)
    # Resources grouped by wave, then kind.
    expect(page.locator("h4.group")).to_have_text(["wave 0 · ConfigMap", "wave 1 · ConfigMap"])
    page.screenshot(path=os.path.join(SHOTS, "app.png"))
    page.click('#history button.rollback[data-id="1"]')
    expect(page.locator("#app-revision")).to_have_text(C1)
    expect(page.locator("#history")).to_contain_text("(rollback to 1)")
    page.screenshot(path=os.path.join(SHOTS, "rollback.png"))
    browser.close()
print("dashboard: ok")
