/* Crisis-line queue: refresh the queue when calls arrive, change, are taken or released
   (never while someone is typing); waiting timers that tick; a sound for new calls
   (the button shows its state: aria-pressed and the words "on"/"off", kept in this
   browser); "hand back to police" asks for confirmation on the page. The fresh queue is
   the server's own escaped HTML, parsed inertly. */
(function () {
  "use strict";
  const queueNode = () => document.getElementById("queue");
  const ids = () => new Set([...document.querySelectorAll("#queue .queue-item")].map((n) => n.dataset.call));

  // ---------------------------------------------------------------- waiting timers
  function tick() {
    const now = Date.now();
    document.querySelectorAll("#queue .waiting[data-since]").forEach((el) => {
      const since = Date.parse(el.dataset.since);
      if (Number.isNaN(since)) return;
      const s = Math.max(0, Math.floor((now - since) / 1000));
      const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      const text = h ? `${h} h ${String(m).padStart(2, "0")} min` : `${m} min ${String(sec).padStart(2, "0")} s`;
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle("long", s >= 600);
    });
  }
  tick();
  setInterval(tick, 1000);

  // ---------------------------------------------------------------- sound
  const sound = document.getElementById("ccd-sound");
  const KEY = "heart.ccd.sound";
  let audio = null;
  function setSound(on) {
    sound.setAttribute("aria-pressed", String(on));
    const state = sound.querySelector(".state");
    state.textContent = on ? state.dataset.on : state.dataset.off;
    try { localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* private mode */ }
  }
  function soundOn() { return sound && sound.getAttribute("aria-pressed") === "true"; }
  function beep() {
    if (!soundOn()) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 660;
      g.gain.setValueAtTime(0.2, audio.currentTime);
      g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
      o.connect(g).connect(audio.destination);
      o.start();
      o.stop(audio.currentTime + 0.6);
      document.body.dataset.beeped = String((parseInt(document.body.dataset.beeped || "0", 10)) + 1);
    } catch (e) { /* no audio: the page still updates */ }
  }
  if (sound) {
    let stored = "0";
    try { stored = localStorage.getItem(KEY) || "0"; } catch (e) { /* */ }
    setSound(stored === "1");
    sound.addEventListener("click", () => setSound(!soundOn()));
  }

  // ---------------------------------------------------------------- hand back: confirm
  document.addEventListener("click", (e) => {
    const open = e.target.closest("#queue button.hand-back");
    if (open) {
      const box = document.getElementById(open.getAttribute("aria-controls"));
      box.hidden = false;
      open.setAttribute("aria-expanded", "true");
      box.querySelector("button.danger").focus();
      return;
    }
    const cancel = e.target.closest("#queue .confirm button.cancel");
    if (cancel) {
      const box = cancel.closest(".confirm");
      box.hidden = true;
      const opener = document.querySelector(`button.hand-back[aria-controls="${box.id}"]`);
      if (opener) { opener.setAttribute("aria-expanded", "false"); opener.focus(); }
    }
  });

  // ---------------------------------------------------------------- live refresh
  const es = new EventSource("/live/events?scope=board");
  let t = null;
  const refresh = () => {
    clearTimeout(t);
    t = setTimeout(async () => {
      if (document.querySelector("#queue textarea:focus") || document.querySelector("#queue .confirm:not([hidden])")) return refresh();
      const before = ids();
      const html = await (await fetch(location.pathname, { credentials: "same-origin" })).text();
      const doc = new DOMParser().parseFromString(html, "text/html");
      const fresh = doc.getElementById("queue");
      if (!fresh) return;
      queueNode().replaceWith(document.importNode(fresh, true));
      tick();
      const added = [...ids()].some((id) => !before.has(id));
      if (added) beep();
    }, 300);
  };
  ["call.received", "call.updated", "ccd.outcome", "ccd.claimed", "ccd.released", "call.closed", "call.rerouted"]
    .forEach((n) => es.addEventListener(n, refresh));
})();
