// Live notifications: the bell's count and the list follow the server-sent `notification` events.
// In the crmflow app, its page script reads the one stream of the tab and hands each event on as
// a `crmflow:notification` DOM event; in our own layout we open the stream ourselves.
(function () {
  "use strict";
  function show(count) {
    document.querySelectorAll(".notify-count, [data-bell]").forEach(function (badge) {
      badge.textContent = String(count);
      badge.dataset.count = String(count);
      if (badge.classList.contains("notify-count")) { badge.hidden = count === 0; }
    });
    document.querySelectorAll("[data-notify-unread]").forEach(function (n) {
      n.textContent = String(count);
    });
  }
  function token() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    var input = document.querySelector('input[name="csrf_token"]');
    return meta ? meta.content : (input ? input.value : "");
  }
  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function localTime(iso, zone) {  // "2026-03-02 11:00" on the person's clock, as the page
    try {
      return new Intl.DateTimeFormat("sv-SE", { timeZone: zone, year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
    } catch (e) {
      return iso.slice(0, 16).replace("T", " ") + " UTC";
    }
  }
  function add(item) {  // a new notification on top of the list (the notifications page)
    var list = document.querySelector(".notify-list");
    if (!list || document.getElementById("n" + item.id)) { return; }
    var words = list.dataset;
    var empty = list.querySelector(".notify-empty");
    if (empty) { empty.remove(); }
    var li = element("li", "notify-item unread" + (item.urgent ? " urgent" : ""));
    li.id = "n" + item.id;
    if (item.urgent) { li.append(element("strong", "notify-urgent", words.urgent)); }
    li.append(element("span", "notify-text", item.text));
    var time = element("time", "", localTime(item.created_at, words.timezone));
    time.setAttribute("datetime", item.created_at);
    li.append(time);
    if (item.link) {
      var link = element("a", "", words.open);
      link.href = item.link;
      li.append(link);
    }
    var form = element("form");
    form.method = "post";
    form.action = words.base + "/" + item.id + "/read";
    var csrf = element("input");
    csrf.type = "hidden";
    csrf.name = "csrf_token";
    csrf.value = token();
    form.append(csrf, element("button", "", words.markRead));
    form.querySelector("button").type = "submit";
    li.append(form);
    list.prepend(li);
  }
  function markReadElsewhere() {  // read in another tab: the items that are read lose their bold
    var list = document.querySelector(".notify-list");
    if (!list || !list.querySelector(".notify-item.unread")) { return; }
    fetch(list.dataset.api + "?unread=1&limit=500", { credentials: "same-origin",
      headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (items) {
        if (!items) { return; }
        var still = {};
        items.forEach(function (i) { still["n" + i.id] = true; });
        list.querySelectorAll(".notify-item.unread").forEach(function (li) {
          if (still[li.id]) { return; }
          li.classList.remove("unread");
          var form = li.querySelector("form");
          if (form) { form.remove(); }
        });
      });
  }
  function refresh() {  // the count as it is now (what came while the stream was down)
    var list = document.querySelector(".notify-list");
    var bell = document.querySelector(".notify-bell");
    var url = bell ? bell.dataset.unreadUrl : (list ? list.dataset.api + "/unread" : "/api/notifications/unread");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body) { show(body.unread); } });
  }
  function handle(data) {
    if (typeof data.unread === "number") { show(data.unread); }
    if (data.id !== undefined && data.text !== undefined) { add(data); } else { markReadElsewhere(); }
  }
  document.addEventListener("click", function (event) {  // opening one marks it read
    var link = event.target.closest ? event.target.closest(".notify-item.unread a[href]") : null;
    var list = document.querySelector(".notify-list");
    if (!link || !list) { return; }
    var id = link.closest(".notify-item").id.slice(1);
    fetch(list.dataset.api + "/" + id + "/read", { method: "POST", keepalive: true,
      credentials: "same-origin", headers: { "X-CSRFToken": token(), "Accept": "application/json" } });
  });
  document.addEventListener("crmflow:live-open", refresh);  // a stream back after a break
  document.addEventListener("crmflow:notification", function (event) { handle(event.detail); });
  if (document.body.dataset.live || !window.EventSource) { return; }  // the app reads the stream
  if (!document.querySelector(".notify-bell")) { return; }
  var stream = new EventSource("/events/stream");
  stream.addEventListener("notification", function (event) { handle(JSON.parse(event.data)); });
})();
