// Live results for one poll, shared by the dashboard and the kiosk display.
//
// Server-Sent Events (`/v1/polls/:id/events`) say when a new version exists; the JSON is
// then fetched with If-None-Match. When the event stream fails, the page says so and polls
// the JSON every Cache-Control max-age (a 304 costs almost nothing) until the stream is
// back. Reconnecting is automatic, with back-off.

/**
 * @typedef {{ id: string, label: string, count: number, share: number }} OptionTotal
 * @typedef {{ bucketMinutes: number, start: string | null, buckets: number,
 *   windowHours?: number, series: { optionId: string, counts: number[], before?: number }[] }} Distribution
 * @typedef {{ pollId: string, title: string, timeZone: string, opensAt: string | null,
 *   closesAt: string | null, status: string, version: string, asOf: string | null,
 *   publishedAt: string, hidden: boolean, message?: string, totalVotes?: number,
 *   options?: OptionTotal[], distribution?: Distribution }} Results
 * @typedef {"connecting" | "live" | "polling" | "offline"} ConnectionState
 * @typedef {{
 *   results?: (results: Results) => void,
 *   hidden?: (message: string) => void,
 *   notReady?: () => void,
 *   notFound?: () => void,
 *   connection?: (state: ConnectionState) => void,
 * }} Handlers
 */

const DEFAULT_POLL_MS = 5_000;
const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 15_000;
const FETCH_TIMEOUT_MS = 10_000;

/** The poll id of a page at /dashboard/:pollId or /kiosk/:pollId. */
/** What a page says when its poll does not exist, or no longer does. */
export const POLL_GONE_TEXT = "This poll does not exist (any more).";

export function pollIdFromPath(pathname = location.pathname) {
  const segment = pathname.split("/").filter(Boolean)[1] ?? "";
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** `public, max-age=5` → 5000 ms (undefined when absent). */
function maxAgeMs(cacheControl) {
  const match = /max-age=(\d+)/.exec(cacheControl ?? "");
  return match ? Number(match[1]) * 1000 : undefined;
}

/** Server time minus this device's time: kiosks often have wrong clocks. */
let clockOffsetMs = 0;

/** The current time on the server's clock (estimated from HTTP Date headers). */
export function serverNow() {
  return Date.now() + clockOffsetMs;
}

/** Notes the server's Date header; ignores differences within its one-second resolution. */
export function noteServerDate(response) {
  const date = Date.parse(response.headers.get("Date") ?? "");
  if (Number.isNaN(date)) return;
  const offset = date + 500 - Date.now();
  clockOffsetMs = Math.abs(offset) < 2_000 ? 0 : offset;
}

export class LiveResults {
  /** @param {string} pollId @param {Handlers} handlers */
  constructor(pollId, handlers) {
    this.pollId = pollId;
    this.handlers = handlers;
    this.base = `/v1/polls/${encodeURIComponent(pollId)}`;
    /** @type {string | undefined} */
    this.etag = undefined;
    /** @type {Results | undefined} */
    this.results = undefined;
    this.pollMs = DEFAULT_POLL_MS;
    /** @type {EventSource | undefined} */
    this.source = undefined;
    /** @type {"connecting" | "up" | "down" | "unsupported"} */
    this.stream = "connecting";
    this.fetchFailed = false;
    this.reconnectMs = RECONNECT_MIN_MS;
    /** @type {ConnectionState} */
    this.state = "connecting";
    this.inFlight = undefined;
    this.again = false;
    this.timer = undefined;
  }

  start() {
    this.refresh();
    if ("EventSource" in window) this.connect();
    else this.stream = "unsupported"; // very old browsers: polling only, nothing is lost
    this.schedulePoll();
  }

  /** Fetches the results now; calls made while a fetch runs share one more fetch after it. */
  refresh() {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = (async () => {
      try {
        do {
          this.again = false;
          // A page's rendering bug must not stop the updates: report it and carry on.
          await this.fetchOnce().catch((err) => setTimeout(() => reportError(err)));
        } while (this.again);
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }

  async fetchOnce() {
    /** @type {Record<string, string>} */
    const headers = { Accept: "application/json" };
    if (this.etag) headers["If-None-Match"] = this.etag;
    let response;
    try {
      // no-store: this code does the revalidation itself, so a 304 reaches it.
      response = await fetch(`${this.base}/results`, {
        headers,
        cache: "no-store",
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), // a half-open connection must not hang us
      });
    } catch {
      this.fetchFailed = true;
      this.update();
      return;
    }
    noteServerDate(response);
    this.pollMs = maxAgeMs(response.headers.get("Cache-Control")) ?? this.pollMs;
    if (response.status === 200) {
      const results = /** @type {Results} */ (await response.json().catch(() => undefined));
      if (!results) return this.failed();
      this.etag = response.headers.get("ETag") ?? undefined;
      this.results = results;
      this.ok();
      this.handlers.results?.(results);
    } else if (response.status === 304) {
      this.ok();
    } else {
      const body = await response.json().catch(() => ({}));
      const code = body?.error?.code;
      if (response.status === 403 && code === "results_hidden") {
        this.etag = undefined;
        this.results = undefined;
        this.ok();
        this.handlers.hidden?.(body.error.message ?? "Results are hidden until the poll closes.");
      } else if (response.status === 404) {
        this.ok();
        this.handlers.notFound?.();
      } else if (response.status === 503 && code === "results_not_ready") {
        this.ok();
        if (!this.results) this.handlers.notReady?.();
      } else {
        this.failed(); // the server answers, but cannot serve results (e.g. its Redis is down)
      }
    }
  }

  ok() {
    this.fetchFailed = false;
    this.update();
  }

  failed() {
    this.fetchFailed = true;
    this.update();
  }

  connect() {
    const source = new EventSource(`${this.base}/events`);
    this.source = source;
    source.addEventListener("open", () => {
      if (this.source !== source) return;
      this.stream = "up";
      this.reconnectMs = RECONNECT_MIN_MS;
      this.update();
      this.refresh(); // whatever was published while the stream was down
      this.schedulePoll();
    });
    source.addEventListener("results", (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      if (data?.version !== this.results?.version) this.refresh();
    });
    source.addEventListener("error", () => {
      if (this.source !== source) return;
      // Reconnect on our own terms (EventSource gives up for good on an HTTP error).
      source.close();
      this.source = undefined;
      this.streamDown();
      const delay = this.reconnectMs * (0.75 + Math.random() * 0.5);
      this.reconnectMs = Math.min(RECONNECT_MAX_MS, this.reconnectMs * 2);
      setTimeout(() => this.connect(), delay);
    });
  }

  streamDown() {
    this.stream = "down";
    this.update();
    this.schedulePoll();
  }

  /**
   * Polls every max-age while the stream is down; while it is up, a slow safety poll
   * catches a stream that went silent without an error.
   */
  schedulePoll() {
    clearTimeout(this.timer);
    const delay = this.stream === "up" ? Math.max(30_000, this.pollMs * 6) : this.pollMs;
    this.timer = setTimeout(async () => {
      await this.refresh();
      this.schedulePoll();
    }, delay);
  }

  update() {
    /** @type {ConnectionState} */
    const state = this.fetchFailed
      ? "offline"
      : this.stream === "down"
        ? "polling"
        : this.stream === "connecting"
          ? "connecting"
          : "live";
    if (state === this.state) return;
    this.state = state;
    this.handlers.connection?.(state);
  }
}

/** The banner text for a connection state (undefined: no banner); `short` for the kiosk. */
export function connectionMessage(state, pollMs, short = false) {
  const seconds = Math.max(1, Math.round(pollMs / 1000));
  if (state === "polling")
    return short
      ? `Connection lost — retrying (checking every ${seconds} s)`
      : `Connection lost — retrying. Live updates are interrupted; checking for new results every ${seconds} s meanwhile.`;
  if (state === "offline")
    return short
      ? "Connection lost — retrying. Numbers may be out of date."
      : "Connection lost — retrying. The server cannot be reached, so the numbers shown may be out of date.";
  return undefined;
}

/**
 * What the dashboard and the kiosk display share around their drawing: the poll's window
 * and time zone kept current (from its results, or from the public poll list while its
 * results are hidden, since those carry them), the results shown, the live results, the
 * connection banner (#connection) and the clock. A page says how it draws each state.
 * @param {string} pollId
 * @param {{
 *   poll: { timeZone: string, opensAt: string | null, closesAt: string | null },
 *   shown: Results | undefined,
 * }} view kept current here: the poll, and the results shown (undefined: none or hidden)
 * @param {{
 *   render: (results: Results) => void,
 *   setTitle: (title: string) => void,
 *   showMessage: (text: string) => void,
 *   showHidden: () => void,
 *   tick: () => void,
 *   notReadyText: string,
 *   shortConnectionText?: boolean,
 * }} page
 */
export function runResultsPage(pollId, view, page) {
  let hiddenShown = false;
  const keepWindow = (/** @type {any} */ info) =>
    Object.assign(view.poll, {
      timeZone: info.timeZone,
      opensAt: info.opensAt,
      closesAt: info.closesAt,
    });
  const live = new LiveResults(pollId, {
    results: (results) => {
      view.shown = results;
      hiddenShown = Boolean(results.hidden);
      keepWindow(results);
      page.render(results);
    },
    // The results became hidden: forget what was shown, say so.
    hidden: () => {
      view.shown = undefined;
      hiddenShown = true;
      page.showHidden();
    },
    notReady: () => page.showMessage(page.notReadyText),
    notFound: () => page.showMessage(POLL_GONE_TEXT),
    connection: (state) => {
      const banner = /** @type {HTMLElement} */ (document.getElementById("connection"));
      const text = connectionMessage(state, live.pollMs, page.shortConnectionText);
      banner.textContent = text ?? "";
      banner.hidden = text === undefined;
      document.body.dataset.connection = state;
    },
  });
  fetch(`/v1/public/polls/${encodeURIComponent(pollId)}`)
    .then(async (response) => {
      if (response.status === 404) return page.showMessage(POLL_GONE_TEXT);
      if (!response.ok) return;
      const info = await response.json();
      keepWindow(info);
      if (view.shown === undefined) page.setTitle(info.title);
      if (hiddenShown) page.showHidden();
      page.tick();
    })
    // The results fetch reports connection trouble.
    .catch(() => {});
  live.start();
  setInterval(page.tick, 1_000);
}
