// The fleet view of worker-agent's browser test (tests/browser/test_fleet_page.py).
//
// It behaves as the cluster's dashboard does towards workers: from its own origin it
// reads every worker's GET /info and GET /health with fetch() and a timeout, again every
// `interval` ms, and takes any failure (a non-2xx answer, a network error, a timeout) as
// the worker being unreachable. A worker that never answered is offline at once; one that
// answered before goes offline after `misses` failed rounds in a row.
//
// Query parameters: workers=host:port,host:port,...  interval=500  timeout=1000  misses=3
// After each round body[data-rounds] says how many rounds have been shown.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const addresses = (params.get("workers") || "").split(",").filter(Boolean);
  const intervalMs = Number(params.get("interval") || 500);
  const timeoutMs = Number(params.get("timeout") || 1000);
  const missLimit = Number(params.get("misses") || 3);

  const workers = addresses.map((address) => ({
    address,
    seen: false,   // answered at least once
    misses: 0,     // failed rounds in a row
    data: null,    // {info, health} while online, null while offline
    error: null,   // why the last round failed
  }));
  let rounds = 0;

  async function getJson(url) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const response = await fetch(url, { signal: abort.signal, cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}`);
      return await response.json();
    } finally {
      clearTimeout(timer);
    }
  }

  async function read(worker) {
    const base = `http://${worker.address}`;
    try {
      const [info, health] = await Promise.all([getJson(`${base}/info`), getJson(`${base}/health`)]);
      Object.assign(worker, { data: { info, health }, seen: true, misses: 0, error: null });
    } catch (e) {
      worker.misses += 1;
      worker.error = e && e.message ? e.message : String(e);
      if (!worker.seen || worker.misses >= missLimit) worker.data = null;
    }
  }

  const known = (value) => value !== null && value !== undefined && value !== "";
  const orNA = (value) => (known(value) ? String(value) : "N/A");
  const megabytes = (value) => (Number.isFinite(value) ? `${value} MB` : "N/A");

  // The text of each cell of an online worker's row, by the cell's class.
  function cellsOf(worker) {
    const { info, health } = worker.data;
    const threads = Number.isFinite(health.cpu_threads) ? health.cpu_threads : info.cpu_threads;
    const load = Array.isArray(health.load_average)
      ? health.load_average.map((x) => Number(x).toFixed(2)).join(" / ")
      : "N/A";
    return {
      state: "online",
      status: orNA(health.status),
      "worker-id": orNA(info.worker_id),
      hostname: orNA(info.hostname),
      os: orNA(info.os),
      arch: orNA(info.os_architecture),
      "cpu-model": orNA(info.cpu_model),
      cpu: `${orNA(info.cpu_cores)} / ${orNA(threads)}`,
      memory: megabytes(info.memory_mb),
      running: `${orNA(health.running_jobs)} / ${orNA(health.max_concurrent_jobs)}`,
      queued: orNA(health.queued_jobs),
      "jobs-disk": megabytes(health.jobs_disk_available_mb),
      "docker-disk": megabytes(health.docker_disk_available_mb),
      "docker-root": orNA(health.docker_root_dir),
      load,
      labels: Array.isArray(info.labels) && info.labels.length ? info.labels.join(", ") : "none",
      reasons: Array.isArray(health.reasons) ? health.reasons.join("; ") : "",
    };
  }

  const columns = ["address", "state", "status", "worker-id", "hostname", "os", "arch",
    "cpu-model", "cpu", "memory", "running", "queued", "jobs-disk", "docker-disk",
    "docker-root", "load", "labels", "reasons"];

  function rowFor(worker) {
    const id = `worker-${worker.address.replace(/[^0-9A-Za-z]/g, "-")}`;
    let row = document.getElementById(id);
    if (!row) {
      row = document.createElement("tr");
      row.id = id;
      row.dataset.address = worker.address;
      for (const column of columns) {
        const cell = document.createElement("td");
        cell.className = column;
        row.appendChild(cell);
      }
      document.querySelector("#workers tbody").appendChild(row);
    }
    return row;
  }

  function render() {
    const totals = { online: 0, degraded: 0, running: 0, slots: 0, queued: 0, threads: 0, memory: 0 };
    for (const worker of workers) {
      const row = rowFor(worker);
      let cells;
      if (worker.data) {
        cells = cellsOf(worker);
        const { info, health } = worker.data;
        totals.online += 1;
        if (health.status === "degraded") totals.degraded += 1;
        totals.running += Number(health.running_jobs) || 0;
        totals.slots += Number(health.max_concurrent_jobs) || 0;
        totals.queued += Number(health.queued_jobs) || 0;
        totals.threads += Number.isFinite(health.cpu_threads) ? health.cpu_threads
          : Number(info.cpu_threads) || 0;
        totals.memory += Number(info.memory_mb) || 0;
      } else {
        cells = Object.fromEntries(columns.map((column) => [column, "—"]));
        cells.state = worker.seen ? "offline" : "offline (never answered)";
        cells.reasons = worker.error || "";
      }
      cells.address = worker.address;
      row.dataset.state = worker.data ? "online" : "offline";
      row.dataset.status = worker.data ? String(worker.data.health.status) : "";
      for (const column of columns) row.querySelector(`.${column}`).textContent = cells[column];
    }
    const put = (name, value) => { document.querySelector(`#totals .${name}`).textContent = String(value); };
    for (const [name, value] of Object.entries(totals)) put(name, value);
    put("known", workers.length);
    document.getElementById("round").textContent = `round ${rounds}`;
    document.body.dataset.rounds = String(rounds);
  }

  async function poll() {
    await Promise.all(workers.map(read));
    rounds += 1;
    render();
    setTimeout(poll, intervalMs);
  }

  render();
  poll();
})();
