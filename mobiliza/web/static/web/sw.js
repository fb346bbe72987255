// Mobiliza service worker: caches the app shell (styles, scripts, icon) so the installed app starts
// fast on a bad connection, and serves a small offline page for navigations that fail. Pages, API
// calls and form posts are never cached: the calling screen keeps unsent results itself
// (localStorage) and sends them when the connection is back.
var CACHE = "mobiliza-shell-v2";
var SHELL = [
  "/static/web/app.css",
  "/static/web/app.js",
  "/static/web/icon.svg",
  "/static/vendor/htmx/htmx.min.js",
  "/static/vendor/alpine/alpine.min.js",
  "/static/calling/calling.css",
  "/static/calling/call.js"
];
var OFFLINE_HTML = '<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
  '<title>Offline · Mobiliza</title><body style="font-family:system-ui;padding:2rem;max-width:30rem;margin:auto">' +
  '<h1>You are offline</h1><p>Mobiliza needs a connection for this page. Results you saved while calling are kept on this device and sent when the connection is back.</p>' +
  '<p><a href="javascript:location.reload()">Try again</a></p></body>';

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) { return cache.add(url).catch(function () {}); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") return;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) return;
  if (url.pathname.indexOf("/static/") === 0) {
    // Stale-while-revalidate for static files.
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(req).then(function (hit) {
        var fresh = fetch(req).then(function (res) { if (res.ok) cache.put(req, res.clone()); return res; }).catch(function () { return hit; });
        return hit || fresh;
      });
    }));
    return;
  }
  if (req.mode === "navigate") {
    // Pages are never stored (they hold personal data, and a phone may be shared): online they
    // come from the network; offline the app shows a notice instead of the browser's error.
    event.respondWith(fetch(req).catch(function () {
      return new Response(OFFLINE_HTML, {headers: {"Content-Type": "text/html; charset=utf-8"}});
    }));
  }
});
