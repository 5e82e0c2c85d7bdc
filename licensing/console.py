"""The web console: one self-contained page (no build step, nothing fetched from elsewhere).

It reads ``GET /api/status`` every few seconds and installs a chosen license file with ``POST /api/licenses``
(the file's JSON as the request body), then shows the new seat counts. Elements tests can find:
``#seats tr[data-kind=<kind>] .in-use / .total``, ``#licenses tr[data-license=<id>]``, ``#leases tr[data-lease=<id>]``,
``#install`` (form), ``#license-file`` (file input), ``#install-result`` (message, class ``ok`` or ``error``), ``#load-error`` (empty unless the status cannot be read).
"""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Swarm Learning license server</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
  h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
  table { border-collapse: collapse; min-width: 40rem; }
  th, td { border-bottom: 1px solid #ddd; padding: .35rem .7rem; text-align: left; font-size: .9rem; }
  th { background: #f4f4f4; }
  .status-valid { color: #17692b; } .status-bad { color: #a31515; }
  .ok { color: #17692b; } .error { color: #a31515; }
  .muted { color: #777; } form { margin-top: .5rem; }
</style>
</head>
<body>
<h1>Swarm Learning license server</h1>
<p class="muted">Server time <span id="server-time">-</span>; a lease not renewed within
<span id="lease-ttl">-</span> s expires and frees its seat.</p>
<p id="load-error" class="error"></p>

<h2>Seats</h2>
<table id="seats"><thead><tr><th>Component</th><th>In use</th><th>Total</th><th>Held by</th></tr></thead>
<tbody></tbody></table>

<h2>Licenses</h2>
<table id="licenses"><thead><tr><th>Id</th><th>Licensee</th><th>Seats</th><th>Valid from</th><th>Valid until</th>
<th>Status</th></tr></thead><tbody></tbody></table>
<form id="install">
  <label>Install a license file: <input type="file" id="license-file" accept=".json,.lic,application/json"></label>
  <button type="submit">Install</button>
  <span id="install-result"></span>
</form>

<h2>Leases</h2>
<table id="leases"><thead><tr><th>Holder</th><th>Component</th><th>Lease</th><th>Expires</th></tr></thead>
<tbody></tbody></table>

<script>
"use strict";
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}
function fill(tableId, items, build) {
  const body = document.querySelector("#" + tableId + " tbody");
  body.replaceChildren();
  for (const item of items) body.appendChild(build(item));
  if (items.length === 0) {
    const row = document.createElement("tr");
    const td = cell(row, "none", "muted");
    td.colSpan = document.querySelectorAll("#" + tableId + " th").length;
    body.appendChild(row);
  }
}
function when(iso) { return new Date(iso).toLocaleString(); }
function render(status) {
  document.getElementById("server-time").textContent = when(status.server_time);
  document.getElementById("lease-ttl").textContent = status.lease_ttl_seconds;
  fill("seats", status.seats, (s) => {
    const row = document.createElement("tr");
    row.dataset.kind = s.kind;
    cell(row, s.kind); cell(row, String(s.in_use), "in-use"); cell(row, String(s.total), "total");
    cell(row, s.holders.join(", "), "holders");
    return row;
  });
  fill("licenses", status.licenses, (l) => {
    const row = document.createElement("tr");
    row.dataset.license = l.id;
    cell(row, l.id); cell(row, l.licensee);
    cell(row, Object.entries(l.seats).map(([k, n]) => k + " " + n).join(", "));
    cell(row, when(l.not_before)); cell(row, when(l.not_after));
    cell(row, l.reason ? l.status + ": " + l.reason : l.status,
         l.status === "valid" ? "status-valid" : "status-bad");
    return row;
  });
  fill("leases", status.leases, (x) => {
    const row = document.createElement("tr");
    row.dataset.lease = x.id;
    cell(row, x.holder); cell(row, x.kind); cell(row, x.id);
    cell(row, when(x.expires_at) + " (in " + Math.round(x.expires_in) + " s)");
    return row;
  });
}
// URLs from the origin: a page opened as https://user:password@host/ has a base URL with credentials,
// and fetch() refuses URLs that carry them
function api(path) { return new URL(path, window.location.origin).href; }
async function refresh() {
  const problem = document.getElementById("load-error");
  try {
    const response = await fetch(api("/api/status"), {cache: "no-store"});
    if (!response.ok) throw new Error("the server answered " + response.status);
    render(await response.json());
    problem.textContent = "";
  } catch (e) {
    problem.textContent = "Could not load the status (" + e.message + "); retrying.";
  }
}
function say(text, cls) {
  const out = document.getElementById("install-result");
  out.textContent = text;
  out.className = cls;
}
document.getElementById("install").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = document.getElementById("license-file").files[0];
  if (!file) { say("choose a license file first", "error"); return; }
  try {
    const response = await fetch(api("/api/licenses"), {
      method: "POST", headers: {"Content-Type": "application/json"}, body: await file.text(),
    });
    const answer = await response.json();
    if (response.ok) say("installed license " + answer.id + " for " + answer.licensee, "ok");
    else say("refused: " + (answer.message || answer.detail), "error");
  } catch (e) {
    say("could not reach the server: " + e, "error");
  }
  await refresh();
});
refresh();
setInterval(refresh, 5000);
</script>
</body>
</html>
"""
