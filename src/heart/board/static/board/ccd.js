/* Crisis-line queue: refresh the queue when calls arrive or change; never while someone
   is typing. The fresh queue is the server's own escaped HTML, parsed inertly. */
(function () {
  "use strict";
  const es = new EventSource("/live/events?scope=board");
  let t = null;
  const refresh = () => {
    clearTimeout(t);
    t = setTimeout(async () => {
      if (document.querySelector("#queue textarea:focus")) return refresh();
      const html = await (await fetch(location.pathname, { credentials: "same-origin" })).text();
      const doc = new DOMParser().parseFromString(html, "text/html");
      const fresh = doc.getElementById("queue");
      if (fresh) document.getElementById("queue").replaceWith(document.importNode(fresh, true));
    }, 300);
  };
  ["call.received", "call.updated", "ccd.outcome", "call.closed", "call.rerouted"].forEach((n) => es.addEventListener(n, refresh));
})();
