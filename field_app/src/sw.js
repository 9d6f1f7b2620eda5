// The service worker: keeps the whole app shell so /field/ opens with no network after the first
// visit. The shell is cached as one version (SHELL_VERSION, set by build.mjs); API calls and
// uploads always go to the network — the app keeps its own data in IndexedDB, never in this cache.
/* global SHELL_VERSION, SHELL_FILES */
const CACHE = `anfang-field-${SHELL_VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("anfang-field-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith(new URL("./", self.registration.scope).pathname)) return;
  // Shell first from the cache (it works offline and opens at once); the page itself falls back
  // to the cached copy of /field/ for any path under the scope.
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(event.request, { ignoreSearch: true });
    if (hit) return hit;
    try {
      return await fetch(event.request);
    } catch (error) {
      if (event.request.mode === "navigate") {
        const page = await cache.match("./");
        if (page) return page;
      }
      throw error;
    }
  })());
});
