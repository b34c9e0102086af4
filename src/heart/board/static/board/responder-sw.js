/* The responder phone's service worker (served as /responder/sw.js, scope /responder/).
   - GET of the responder page and of static files: network first, the last good copy
     when offline, so a reload without network still opens the page;
   - signed out (the page redirects to sign-in): the kept copy is deleted;
   - a form post made without network (the page's script queues taps itself; this is
     for a post made before the script ran): a short page saying nothing was sent,
     never the browser's error page. */
const CACHE = "heart-responder-v1";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function offlinePage() {
  const html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">" +
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
    "<title>Not sent · HEART</title></head><body><main><h1>Not sent: no network</h1>" +
    "<p>Nothing was changed. Go back to <a href=\"/responder/\">My team</a> and tap again: " +
    "taps made there are kept on the phone and sent when the network returns.</p>" +
    "</main></body></html>";
  return new Response(html, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.method === "POST") {
    if (req.mode === "navigate") event.respondWith(fetch(req).catch(() => offlinePage()));
    return;
  }
  if (req.method !== "GET") return;
  const page = url.pathname === "/responder/";
  if (!page && !url.pathname.startsWith("/static/")) return;
  event.respondWith(
    fetch(req).then((resp) => {
      if (page && resp.redirected && !new URL(resp.url).pathname.startsWith("/responder/")) {
        // signed out (sent to the sign-in page): forget the kept copy of the call
        caches.delete(CACHE);
        return resp;
      }
      if (resp.ok && resp.type === "basic") {
        const copy = resp.clone();
        caches.open(CACHE).then((c) => c.put(page ? "/responder/" : req, copy));
      }
      return resp;
    }).catch(() => caches.match(page ? "/responder/" : req).then((hit) => hit || offlinePage()))
  );
});
