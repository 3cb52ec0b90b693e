// tnet ui: live updates for the server-rendered pages. No library, no build.
// The server sends Server-Sent Events (/live); a task's event changes its
// row in place, anything else redraws the parts of the page marked
// data-refresh from a fresh copy of the page.
"use strict";
(function () {
  const body = document.body;
  const live = body.dataset.live;
  const task = body.dataset.task;
  const conn = document.getElementById("conn");

  function rowsOf(key) {
    return document.querySelectorAll('[data-task="' + CSS.escape(key) + '"]');
  }

  let pending = null;
  // Fetches the page again and swaps in its data-refresh parts.
  function refresh() {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      try {
        const res = await fetch(location.pathname + location.search, { credentials: "same-origin" });
        if (!res.ok) return;
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        for (const old of document.querySelectorAll("[data-refresh]")) {
          const fresh = old.id && doc.getElementById(old.id);
          if (fresh) old.replaceWith(document.importNode(fresh, true));
        }
      } catch (e) { /* the next update tries again */ }
    }, 200);
  }

  function setState(row, ev) {
    const cell = row.querySelector(".state");
    if (cell) {
      cell.dataset.state = ev.state;
      const badge = cell.querySelector(".badge");
      if (badge) badge.textContent = ev.state;
    }
    const exit = row.querySelector(".exit");
    if (exit && ev.exit_code !== null && ev.exit_code !== undefined) exit.textContent = ev.exit_code;
    const last = row.querySelector(".event");
    if (last) { last.textContent = ev.kind.replace(/_/g, " "); last.title = ev.message; }
  }

  function onTask(ev) {
    const key = ev.host + "/" + ev.task;
    const rows = rowsOf(key);
    rows.forEach((row) => setState(row, ev));
    if (live === "tasks" && rows.length === 0) refresh();
    if (live === "task" && task === key) refresh();
    if (live === "habits" && ev.type === "habit") refresh();
  }

  // A page with a form someone is filling in is not redrawn under them.
  function busy() {
    const a = document.activeElement;
    if (a && a.closest && a.closest("form.call")) return true;
    return Array.from(document.querySelectorAll("form.call textarea, form.call input[name=args]")).some((f) => f.value);
  }

  const log = document.getElementById("log");
  function onLog(chunk) {
    if (!log) return;
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    if (chunk.reset) log.textContent = chunk.text; else log.append(chunk.text);
    if (atEnd) log.scrollTop = log.scrollHeight;
  }

  if (live && live !== "none" && window.EventSource) {
    const url = "/live" + (task ? "?log=" + encodeURIComponent(task) : "");
    const source = new EventSource(url);
    let connected = false;
    const on = (name, f) => source.addEventListener(name, (e) => f(JSON.parse(e.data)));
    on("hello", () => {
      // A reconnection may have missed updates.
      if (connected) refresh();
      connected = true;
      conn.classList.add("on");
      body.dataset.connected = "1";
    });
    source.onerror = () => { conn.classList.remove("on"); delete body.dataset.connected; };
    on("task", onTask);
    on("log", onLog);
    on("host", () => { if (live !== "task" && !busy()) refresh(); });
    on("habit", (h) => {
      if (live === "habits" || (live === "task" && task === h.run.host + "/" + h.run.task)) refresh();
    });
    on("inbox", () => { if (live === "inbox") refresh(); });
    on("service", () => { if (live === "services" && !busy()) refresh(); });
    on("resync", () => { if (!busy()) refresh(); });
  }

  document.addEventListener("submit", async (e) => {
    const form = e.target;
    if (form.dataset.confirm && !confirm(form.dataset.confirm)) { e.preventDefault(); return; }
    if (!form.classList.contains("call") || form.elements.download.checked) return;
    // A call's result is shown under its form, the page kept.
    e.preventDefault();
    const out = form.nextElementSibling;
    const button = form.querySelector("button");
    out.textContent = "calling…";
    button.disabled = true;
    try {
      const res = await fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" });
      const type = res.headers.get("content-type") || "";
      if (type.startsWith("text/html")) {
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const result = document.importNode(doc.getElementById("call-result") || doc.body, true);
        // Several results may be shown at once: ids stay unique.
        result.removeAttribute("id");
        out.replaceChildren(result);
      } else {
        const blob = await res.blob();
        const a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = (/filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "") || [])[1] || "result";
        a.textContent = "Download the result (" + blob.size + " bytes)";
        out.replaceChildren(a);
      }
    } catch (err) {
      out.textContent = "the call failed: " + err;
    } finally {
      button.disabled = false;
    }
  });
})();
