// The sluice dashboard: the API's apps, live from its event stream.
// No framework, no CDN: one page, hash routes (#/ and #/app/NAME).
"use strict";
const state = { apps: {}, filter: { text: "", sync: "", health: "" }, token: sessionStorage.getItem("sluice-token") || "" };
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const badge = (s) => `<span class="badge ${esc(s)}">${esc(s || "-")}</span>`;
const short = (r) => (/^[0-9a-f]{40}$/.test(r || "") ? r.slice(0, 7) : r || "");

async function api(method, path, body) {
  const headers = { "content-type": "application/json" };
  if (state.token) headers.authorization = "Bearer " + state.token;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401) { $("login").style.display = "block"; throw new Error("a token is needed"); }
  const v = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(v.error || r.statusText);
  return v;
}

function listView() {
  const f = state.filter;
  const names = Object.keys(state.apps).sort();
  const rows = names.map((n) => state.apps[n]).filter((a) =>
    (!f.text || a.name.includes(f.text)) && (!f.sync || a.sync === f.sync) && (!f.health || a.health === f.health));
  const opt = (vals, cur) => ["", ...vals].map((v) => `<option value="${v}"${v === cur ? " selected" : ""}>${v || "all"}</option>`).join("");
  $("view").innerHTML = `<p><input id="f-text" placeholder="filter by name" value="${esc(f.text)}">
    sync <select id="f-sync">${opt(["Synced", "OutOfSync", "Unknown"], f.sync)}</select>
    health <select id="f-health">${opt(["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"], f.health)}</select>
    <span id="count">${rows.length} of ${names.length} apps</span></p>
    <table id="apps"><thead><tr><th>NAME</th><th>SYNC</th><th>HEALTH</th><th>NAMESPACE</th><th>REVISION</th><th>CONDITIONS</th></tr></thead><tbody>${
    rows.map((a) => `<tr data-app="${esc(a.name)}"><td><a href="#/app/${encodeURIComponent(a.name)}">${esc(a.name)}</a></td>
      <td class="sync">${badge(a.sync)}${a.paused ? " paused" : ""}</td><td class="health">${badge(a.health)}</td>
      <td>${esc(a.spec && a.spec.namespace)}</td><td>${esc(short(a.revision))}</td>
      <td>${esc((a.conditions || []).map((c) => c.type).join(", "))}</td></tr>`).join("")}</tbody></table>`;
  $("f-text").oninput = (e) => { f.text = e.target.value; listView(); $("f-text").focus(); };
  $("f-sync").onchange = (e) => { f.sync = e.target.value; listView(); };
  $("f-health").onchange = (e) => { f.health = e.target.value; listView(); };
}

async function appView(name) {
  const [a, res, diff, hist] = await Promise.all([
    api("GET", `/api/v1/apps/${encodeURIComponent(name)}`),
    api("GET", `/api/v1/apps/${encodeURIComponent(name)}/resources`),
    api("GET", `/api/v1/apps/${encodeURIComponent(name)}/diff`),
    api("GET", `/api/v1/apps/${encodeURIComponent(name)}/history`),
  ]);
  if (location.hash !== `#/app/${encodeURIComponent(name)}`) return;
  // Grouped by wave, then kind.
  const groups = {};
  for (const r of res) {
    const key = `wave ${r.wave || 0} / ${r.kind}`;
    (groups[key] = groups[key] || { wave: r.wave || 0, kind: r.kind, items: [] }).items.push(r);
  }
  const order = Object.values(groups).sort((a, b) => a.wave - b.wave || a.kind.localeCompare(b.kind));
  const spec = a.spec || {};
  $("view").innerHTML = `<h2 id="app-name">${esc(a.name)}</h2>
    <p>Sync <span id="app-sync">${badge(a.sync)}</span> Health <span id="app-health">${badge(a.health)}</span>
    revision <code id="app-revision">${esc(short(a.revision))}</code>${a.paused ? " (paused)" : ""}</p>
    <p>${esc(spec.repoURL)} ${esc(spec.path)} @ ${esc(spec.targetRevision)} &rarr; ${esc(spec.cluster)}/${esc(spec.namespace)}
    ${spec.automated ? "automated" : "manual"}</p>
    ${(a.conditions || []).map((c) => `<p class="condition"><b>${esc(c.type)}</b>: ${esc(c.message)}</p>`).join("")}
    <h3>Resources</h3>${order.map((g) => `<h4 class="group">wave ${g.wave} &middot; ${esc(g.kind)}</h4><table><tr><th>NAMESPACE</th><th>NAME</th><th>STATUS</th><th>HEALTH</th><th>MESSAGE</th></tr>${
      g.items.map((r) => `<tr><td>${esc(r.namespace)}</td><td>${esc(r.name)}</td><td>${badge(r.status)}</td><td>${badge(r.health)}</td><td>${esc(r.message)}</td></tr>`).join("")}</table>`).join("")}
    ${diff.resources.length ? `<h3>Diff</h3>${diff.resources.map((d) => `<pre class="diff">${esc(d.diff || d.status + " " + d.message)}</pre>`).join("")}` : ""}
    <h3>History</h3><label><input type="checkbox" id="no-auto"> turn automated sync off to roll back</label>
    <table id="history"><tr><th>ID</th><th>DATE</th><th>REVISION</th><th></th></tr>${
      hist.slice().reverse().map((h) => `<tr><td>${h.id}</td><td>${esc(h.deployedAt)}</td><td>${esc(short(h.revision))}${h.rollback ? ` (rollback to ${h.rollback})` : ""}</td>
      <td><button class="rollback" data-id="${h.id}">Rollback</button></td></tr>`).join("")}</table>`;
  for (const b of document.querySelectorAll("button.rollback")) {
    b.onclick = async () => {
      try {
        await api("POST", `/api/v1/apps/${encodeURIComponent(name)}/rollback`, { id: Number(b.dataset.id), disableAutoSync: $("no-auto").checked });
        $("error").textContent = "";
      } catch (e) { $("error").textContent = e.message; }
    };
  }
}

function render() {
  const m = location.hash.match(/^#\/app\/(.+)$/);
  if (m) appView(decodeURIComponent(m[1])).catch((e) => { $("error").textContent = e.message; });
  else listView();
}

async function follow() {
  // EventSource cannot send a token: read the stream with fetch.
  const headers = state.token ? { authorization: "Bearer " + state.token } : {};
  const r = await fetch("/api/v1/events", { headers });
  if (!r.ok) throw new Error("event stream: " + r.status);
  $("conn").textContent = "live";
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
      const data = chunk.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("");
      if (!data) continue;
      const ev = JSON.parse(data);
      if (ev.status === null) delete state.apps[ev.app];
      else state.apps[ev.app] = Object.assign(state.apps[ev.app] || { name: ev.app }, ev.status);
      const m = location.hash.match(/^#\/app\/(.+)$/);
      if (!m) listView();
      else if (decodeURIComponent(m[1]) === ev.app) render();
    }
  }
  $("conn").textContent = "reconnecting";
  setTimeout(start, 1000);
}

async function start() {
  try {
    state.apps = await api("GET", "/api/v1/apps");
    $("login").style.display = "none";
    $("error").textContent = "";
    render();
    follow().catch((e) => { $("conn").textContent = "offline: " + e.message; setTimeout(start, 2000); });
  } catch (e) { $("error").textContent = e.message; }
}

$("save").onclick = () => { state.token = $("token").value.trim(); sessionStorage.setItem("sluice-token", state.token); start(); };
window.onhashchange = render;
start();
