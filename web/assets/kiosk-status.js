// The kiosk's status line, on every page of the kiosk app: online or not, votes waiting
// and the age of the oldest, the last successful send, whether storage is persistent, and
// every vote the server refused, with its reason (kept for the operator, never dropped).

import { el, formatAgo } from "./format.js";

const TICK_MS = 1000;
const REFUSED_SHOWN = 50; // the newest ones; the count covers all

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

const clock = new Intl.DateTimeFormat("en-GB", {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

/** "Online", "Offline", "Server unreachable" or "Revoked", from the browser and the sender. */
export function connectionText(status, online = navigator.onLine) {
  if (status.state === "revoked") return "Revoked";
  if (!online) return "Offline";
  if (status.state === "backoff" && status.lastError) return "Server unreachable";
  return "Online";
}

/** The status line's parts, made here so that every kiosk page has the same ones. */
function buildStatusLine(box) {
  const refused = el("details", null, { id: "st-refused", class: "st-refused", hidden: "" });
  refused.append(
    el("summary", null, { id: "st-refused-count", "data-refused": "0" }),
    el("ul", null, { id: "st-refused-list" }),
  );
  box.replaceChildren(
    el("span", "…", { id: "st-online", class: "st-online", role: "status" }),
    el("span", "…", { id: "st-waiting", "data-pending": "" }),
    el("span", null, { id: "st-oldest", hidden: "" }),
    el("span", null, { id: "st-last-sent" }),
    el("span", null, { id: "st-storage" }),
    el("button", "Send now", { id: "st-send", type: "button", class: "st-send" }),
    refused,
  );
}

/**
 * Renders the outbox's status into the page's #kiosk-status and keeps it current.
 * `labelOf(entry)` names a refused entry's option. Returns a function that re-renders.
 */
export function showOutboxStatus(outbox, { labelOf = (entry) => entry.optionId, onStatus } = {}) {
  buildStatusLine($("kiosk-status"));
  let rendering = false;
  let again = false;
  const render = async () => {
    if (rendering) {
      again = true;
      return;
    }
    rendering = true;
    try {
      do {
        again = false;
        const status = await outbox.status();
        const now = Date.now();
        const box = $("kiosk-status");
        box.dataset.state = status.state;
        const connection = connectionText(status);
        $("st-online").textContent = connection;
        $("st-online").dataset.connection = connection.toLowerCase().replaceAll(" ", "-");
        const waiting = $("st-waiting");
        waiting.dataset.pending = String(status.pending);
        waiting.textContent =
          status.pending === 0
            ? "Nothing waiting"
            : `${plural(status.pending, "vote", "votes")} waiting`;
        const oldest = $("st-oldest");
        oldest.hidden = status.oldestPendingAt === null;
        if (status.oldestPendingAt)
          oldest.textContent = `oldest ${formatAgo(now - Date.parse(status.oldestPendingAt))}`;
        $("st-last-sent").textContent = status.lastSentAt
          ? `last sent ${clock.format(new Date(status.lastSentAt))}`
          : "nothing sent yet";
        $("st-storage").textContent =
          status.persisted === true ? "storage persistent" : "storage not persistent";
        $("st-storage").dataset.persisted = String(status.persisted === true);
        $("st-refused-count").dataset.refused = String(status.refused);
        $("st-refused").hidden = status.refused === 0;
        if (status.refused > 0) {
          $("st-refused-count").textContent = `${plural(status.refused, "vote", "votes")} refused`;
          const refused = (await outbox.refused())
            .sort((a, b) => b.refusedAt - a.refusedAt)
            .slice(0, REFUSED_SHOWN);
          $("st-refused-list").replaceChildren(
            ...refused.map((r) => {
              const who = r.entry.voterId ? ` · voter ${r.entry.voterId}` : "";
              const item = el(
                "li",
                `${clock.format(new Date(r.refusedAt))} · ${labelOf(r.entry)}${who} — ${r.error.message} (${r.error.code})`,
                { "data-code": r.error.code, "data-event-id": r.entry.eventId },
              );
              return item;
            }),
          );
        }
        onStatus?.(status);
      } while (again);
    } catch (err) {
      console.warn("status not shown", err);
    } finally {
      rendering = false;
    }
  };
  for (const type of ["change", "sent", "refused", "error"]) outbox.on(type, render);
  addEventListener("online", render);
  addEventListener("offline", render);
  setInterval(render, TICK_MS); // the ages, and the sender's state
  $("st-send").addEventListener("click", () => {
    outbox.flush({ force: true }).then(render, render);
  });
  render();
  return render;
}
