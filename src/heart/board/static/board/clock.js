/* One time format for the live pages (settings.HEART_CLOCK, in <meta name="heart-clock">):
   window.heartClock(date, withSeconds) -> "14:05" / "2:05 PM". */
(function () {
  "use strict";
  const meta = document.querySelector("meta[name=heart-clock]");
  const hour12 = !!meta && meta.content === "12h";
  window.heartClock = function (date, withSeconds) {
    const opts = { hour: hour12 ? "numeric" : "2-digit", minute: "2-digit", hour12: hour12 };
    if (withSeconds) opts.second = "2-digit";
    return new Date(date).toLocaleTimeString([], opts);
  };
})();
