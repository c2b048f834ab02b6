// hopwatch status pages: reloads a live page every 30 seconds while it is
// visible. Skipped while the reader has a <details> open or text selected,
// so evidence being read does not vanish. The pages work without this file.
(function () {
  "use strict";
  var seconds = Number(document.body.getAttribute("data-refresh"));
  if (!seconds) {
    return;
  }
  function busy() {
    var selection = window.getSelection && window.getSelection();
    return (
      document.visibilityState !== "visible" ||
      document.querySelector("details[open]") !== null ||
      (selection && selection.toString().length > 0)
    );
  }
  window.setInterval(function () {
    if (!busy()) {
      window.location.reload();
    }
  }, seconds * 1000);
})();
