/* Care pages: a refused form shows its error beside the field; bring the first such
   field into view and put the cursor there (the page may be long). */
(function () {
  "use strict";
  const bad = document.querySelector("[aria-invalid=true]") || document.querySelector(".care-form .field-error[role=alert]");
  if (!bad) return;
  bad.scrollIntoView({ block: "center" });
  if (bad.matches("input, select, textarea")) bad.focus({ preventScroll: true });
})();
