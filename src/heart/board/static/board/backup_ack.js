/* The responder's "Dispatch saw your backup request — <name>, <time>" (#backup-ack):
   filled when the acknowledgement event arrives for this team, and on load by the page. */
(function () {
  "use strict";
  const box = document.getElementById("backup-ack");
  if (!box || !window.EventSource) return;
  const hhmm = (iso) => window.heartClock(iso);  // clock.js: the live pages' one time format
  function show(ack) {
    const t = document.createElement("time");
    t.dateTime = ack.at;
    t.textContent = hhmm(ack.at);
    box.replaceChildren(document.createTextNode(box.dataset.seen + " — " + ack.by + ", "), t);
    box.className = "msg ok";
    box.hidden = false;
    box.dataset.backupCallId = String(ack.backup_call_id);
    box.dataset.acknowledged = "1";
  }
  async function load(id) {
    try {
      const r = await fetch("/api/backups/" + id + "/ack", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.ok) show(await r.json());
    } catch (e) { /* offline: the next event or reload fills it */ }
  }
  const es = new EventSource("/live/events?scope=team");
  es.addEventListener("backup.acknowledged", (ev) => {
    const p = JSON.parse(ev.data);
    if (p.backup_call_id) load(p.backup_call_id);
  });
  // a backup request just sent (the page reloaded after it) may be seen meanwhile
  if (box.dataset.backupCallId && !box.textContent.includes(box.dataset.seen)) load(box.dataset.backupCallId);
})();
