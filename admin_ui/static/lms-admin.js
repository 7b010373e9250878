/* Back-office and public pages' behaviour without inline handlers (the CSP refuses them):
   "With selected" actions and confirmations are bound here by data attributes. */
(function () {
  "use strict";
  /* Flask-Admin's "javascript:void(0)" links only open menus or add a filter: never follow
     them (the CSP refuses javascript: URLs). Capturing: some handlers stop the bubbling. */
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest('a[href^="javascript:"]')) { event.preventDefault(); }
  }, true);
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-lms-action],[data-lms-confirm]") : null;
    if (!target) { return; }
    if (target.hasAttribute("data-lms-action")) {
      event.preventDefault();
      if (window.modelActions) { window.modelActions.execute(target.getAttribute("data-lms-action")); }
      return;
    }
    if (!window.confirm(target.getAttribute("data-lms-confirm"))) {
      event.preventDefault();
    }
  });
  /* A page following a background job (an import's plan or apply) reloads itself. */
  var refresh = document.querySelector("[data-lms-refresh]");
  if (refresh) {
    var seconds = parseFloat(refresh.getAttribute("data-lms-refresh")) || 2;
    window.setTimeout(function () { window.location.reload(); }, Math.max(seconds, 1) * 1000);
  }
  /* Dates: shown in the viewer's time zone (the server writes UTC in <time datetime>). */
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when.getTime())) {
      el.textContent = when.toLocaleString([], {dateStyle: "medium", timeStyle: "short"});
      el.title = el.getAttribute("datetime");
    }
  });
})();
