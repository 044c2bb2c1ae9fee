// Live notifications: the bell's number follows the server-sent `notification` events.
(function () {
  "use strict";
  var bells = document.querySelectorAll(".notify-bell");
  if (!bells.length || !window.EventSource) { return; }
  function show(count) {
    bells.forEach(function (bell) {
      var badge = bell.querySelector(".notify-count");
      badge.textContent = String(count);
      badge.dataset.count = String(count);
      badge.hidden = count === 0;
    });
  }
  function refresh() {
    var url = bells[0].dataset.unreadUrl;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body) { show(body.unread); } });
  }
  var stream = new EventSource("/events/stream");
  stream.addEventListener("notification", refresh);
})();
