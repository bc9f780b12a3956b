// The kiosk app's service worker (served at /kiosk-sw.js, its version and shell list filled
// in by the API at start). It makes /pair, /vote, /vote/:pollId and the teacher's register
// page /register load with no network:
// - the app shell (pages, CSS, scripts, the kiosk-client modules, uuid) is precached under
//   a cache named after the version, and answered from it;
// - GET /v1/kiosk and GET /v1/public/polls[/:id] go to the network first and fall back to
//   the last good answer, so an offline kiosk still knows its polls; so do a teacher's
//   GET /v1/teacher and GET /v1/registers/:pollId/roster (the group's names on the device
//   of a teacher of its school, as a paper register; dropped at the first 401 or 403);
// - nothing else is touched: POSTs (votes, pairing) always go to the network, from the
//   page's outbox, and so does a person's attendance state (GET /v1/kiosk/people/…), which
//   is personal data and must not be kept on the device. The queue lives in IndexedDB, which this worker never opens, so an
//   update (a new worker, a new cache) can never lose a vote.

const VERSION = "__SHELL_VERSION__";
const SHELL_URLS = ["__SHELL_URLS__"];
const SHELL_CACHE = `tallyflow-kiosk-shell-${VERSION}`;
const SHELL_PREFIX = "tallyflow-kiosk-shell-";
// Not versioned: the last answers of the API survive an update (still good offline).
const DATA_CACHE = "tallyflow-kiosk-data-v1";
// An answer slower than this is taken from the cache (a kiosk on a bad network).
const NETWORK_TIMEOUT_MS = 4000;

const shellPaths = new Set(SHELL_URLS);
const VOTE_PAGE = "/kiosk-app/vote.html";

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      // no-cache: revalidate, so the HTTP cache never hands an old file to a new version.
      await cache.addAll(SHELL_URLS.map((url) => new Request(url, { cache: "no-cache" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys())
        if (name.startsWith(SHELL_PREFIX) && name !== SHELL_CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

/** The shell URL that answers a path, or undefined. */
function shellUrl(path) {
  if (shellPaths.has(path)) return path;
  if (path === "/vote/") return "/vote";
  if (/^\/vote\/[A-Za-z0-9_-]{1,64}$/.test(path)) return VOTE_PAGE;
  return undefined;
}

function isApiRead(path) {
  return (
    path === "/v1/kiosk" ||
    path === "/v1/public/polls" ||
    path.startsWith("/v1/public/polls/") ||
    path === "/v1/teacher" ||
    /^\/v1\/registers\/[A-Za-z0-9_-]{1,64}\/roster$/.test(path)
  );
}

async function fromShell(request, url) {
  const cached = await caches.match(url, { cacheName: SHELL_CACHE });
  return cached ?? fetch(request);
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** Network first; the last 200 answer (marked X-Kiosk-Cached: <when>) when it fails. */
async function networkFirst(request) {
  const cache = await caches.open(DATA_CACHE);
  try {
    const response = await withTimeout(fetch(request), NETWORK_TIMEOUT_MS);
    if (response.status === 200) await cache.put(request.url, response.clone());
    // A refused kiosk must not keep its old list offline.
    else if (response.status === 401 || response.status === 403) await cache.delete(request.url);
    return response;
  } catch {
    const cached = await cache.match(request.url);
    if (!cached) return Response.error();
    const headers = new Headers(cached.headers);
    headers.set("X-Kiosk-Cached", cached.headers.get("Date") ?? "unknown");
    return new Response(cached.body, { status: 200, headers });
  }
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const shell = shellUrl(url.pathname);
  if (shell) return event.respondWith(fromShell(request, shell));
  if (isApiRead(url.pathname)) event.respondWith(networkFirst(request));
});

// The page asks which version runs (shown to the operator).
self.addEventListener("message", (event) => {
  if (event.data === "version") event.source?.postMessage({ version: VERSION });
});
