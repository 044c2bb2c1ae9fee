// crmflow pages: live updates over server-sent events and the demand-change impact preview.
// A module wired by data- attributes; no inline scripts (the CSP forbids them).
const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

function live() {
  const url = document.body.dataset.live;
  if (!url || !window.EventSource) return;
  const source = new EventSource(url);
  // "open" once the server holds this tab's stream (and again after a reconnect)
  source.addEventListener("open", () => {
    if (document.body.dataset.liveState === "reconnecting") {
      document.dispatchEvent(new CustomEvent("crmflow:live-open"));  // catch up on the bell
    }
    document.body.dataset.liveState = "open";
  });
  source.addEventListener("error", () => { document.body.dataset.liveState = "reconnecting"; });
  source.addEventListener("instance", (event) => {
    const change = JSON.parse(event.data);
    const here = document.querySelector(`[data-live-instance="${change.id}"]`);
    const list = document.querySelector("[data-live-list]");
    if (here || list) {
      const note = document.getElementById("live-note") ?? document.createElement("p");
      note.id = "live-note";
      note.className = "ok";
      note.setAttribute("role", "status");
      note.textContent = `#${change.id} ${change.workflow}: ${change.from} → ${change.to}`;
      const link = document.createElement("a");
      link.href = window.location.pathname;
      link.textContent = " ↻";
      note.append(link);
      document.querySelector("main")?.prepend(note);
    }
  });
  // the person's own notifications: the bell and the list (static/notify/notify.js) follow them
  source.addEventListener("notification", (event) => {
    const detail = JSON.parse(event.data);
    document.dispatchEvent(new CustomEvent("crmflow:notification", { detail }));
  });
}

function impactPreview() {
  const form = document.getElementById("change-form");
  if (!form) return;
  const panel = document.getElementById("impact");
  let timer = null;
  const update = async () => {
    const data = new FormData(form);
    const body = { sku: data.get("sku"), field: data.get("field"), new: data.get("new") };
    if (!body.new) return;
    const answer = await fetch(form.dataset.impact, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const result = await answer.json();
    panel.replaceChildren();
    const line = (label, value) => {
      const div = document.createElement("div");
      div.className = "tile";
      const l = document.createElement("span");
      l.className = "label";
      l.textContent = label;
      const v = document.createElement("span");
      v.className = "value";
      v.textContent = value;
      div.append(l, v);
      panel.append(div);
    };
    const t = panel.dataset;
    if (!answer.ok) {
      line("⚠", result.error?.message ?? answer.status);
      return;
    }
    const i = result.impact;
    line(t.within ?? "within tolerance", i.within_tolerance ? "✓" : "✗");
    line(t.ctp ?? "CTP", i.ctp?.date ?? "–");
    line(t.late ?? "late", i.late ? "✗" : "✓");
    line(t.plan ?? "moves plan", i.moves_plan ? "!" : "–");
    line(t.load ?? "load", i.capacity_load_14d == null ? "–" : `${Math.round(i.capacity_load_14d * 100)}%`);
  };
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(update, 300);
  });
}

live();
impactPreview();
