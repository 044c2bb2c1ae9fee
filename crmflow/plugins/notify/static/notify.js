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
    var time = element("time", "", item.created_at.slice(0, 16).replace("T", " ") + " UTC");
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
  function handle(data) {
    if (typeof data.unread === "number") { show(data.unread); }
    if (data.id !== undefined && data.text !== undefined) { add(data); } else { markReadElsewhere(); }
  }
  document.addEventListener("crmflow:notification", function (event) { handle(event.detail); });
  if (document.body.dataset.live || !window.EventSource) { return; }  // the app reads the stream
  if (!document.querySelector(".notify-bell")) { return; }
  var stream = new EventSource("/events/stream");
  stream.addEventListener("notification", function (event) { handle(JSON.parse(event.data)); });
})();
