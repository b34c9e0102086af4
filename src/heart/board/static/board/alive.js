/* The live pages stay signed in while they are on screen: a keep-alive every few
   minutes when the page is visible. A hidden or forgotten tab reaches the idle timeout
   (accounts.middleware); when the session has ended the page reloads to the sign-in. */
(function () {
  "use strict";
  const EVERY_MS = 4 * 60 * 1000;
  setInterval(() => {
    if (document.visibilityState !== "visible") return;
    fetch("/accounts/alive", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => { if (r.status === 401) location.reload(); })
      .catch(() => { /* offline: the next ping tries again */ });
  }, EVERY_MS);
})();
