/* syndicate admin: live send progress. An element with data-progress-url is refreshed from that
   JSON endpoint ({counts: {state: n}, total, done, final}) every second until final is true.
   Without script the page still shows the counts of when it was loaded. */
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-progress-url]").forEach(function (box) {
    var url = box.getAttribute("data-progress-url");
    function show(data) {
      Object.keys(data.counts).forEach(function (state) {
        document.querySelectorAll('[data-count="' + state + '"]').forEach(function (cell) {
          cell.textContent = data.counts[state];
        });
      });
      var bar = box.querySelector("progress");
      if (bar) { bar.max = Math.max(data.total, 1); bar.value = data.done; }
      var line = box.querySelector("[data-progress-text]");
      if (line) { line.textContent = data.final ? "Finished: " + data.done + " of " + data.total + " final."
                                              : "Sending… " + data.done + " of " + data.total + " final."; }
      box.setAttribute("data-final", data.final ? "true" : "false");
    }
    function poll() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) { show(data); if (!data.final) { setTimeout(poll, 1000); } })
        .catch(function () { setTimeout(poll, 5000); });
    }
    if (box.getAttribute("data-final") !== "true") { setTimeout(poll, 1000); }
  });
});
