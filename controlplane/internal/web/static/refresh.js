// Reloads the requests page every data-refresh seconds so new requests
// appear, but never while the approver is typing or has a field focused.
// It goes to /requests rather than reloading, so a page shown after a
// form post is never posted again. Without JavaScript, use "Refresh".
(function () {
  var seconds = Number(document.body.dataset.refresh);
  if (!seconds) { return; }
  setInterval(function () {
    var focused = document.activeElement && document.activeElement.matches("input, textarea, button");
    var typed = Array.prototype.some.call(document.querySelectorAll("textarea"), function (t) { return t.value !== ""; });
    if (!focused && !typed && document.visibilityState === "visible") { location.replace("/requests"); }
  }, seconds * 1000);
})();
