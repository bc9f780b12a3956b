// The poll list at /: open polls first, with links to their dashboard and kiosk display.

import { el, windowText } from "./format.js";
import { noteServerDate, serverNow } from "./live.js";

const REFRESH_MS = 30_000;
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

function pollItem(poll) {
  const id = encodeURIComponent(poll.id);
  const item = el("li", null, { "data-poll-id": poll.id });
  const title = el("a", poll.title, { href: `/dashboard/${id}`, class: "poll-title" });
  const status = el("span", windowText(poll, serverNow()), { class: "poll-status" });
  if (poll.resultsVisibility === "after_close") status.append(" · results after it closes");
  const kiosk = el("a", "Kiosk display", { href: `/kiosk/${id}` });
  kiosk.append(el("span", ` for ${poll.title}`, { class: "visually-hidden" }));
  item.append(title, status, kiosk);
  return item;
}

async function load() {
  const banner = $("connection");
  try {
    const response = await fetch("/v1/public/polls", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    noteServerDate(response);
    const { polls } = await response.json();
    const open = polls.filter((p) => p.status === "open");
    const other = polls.filter((p) => p.status !== "open");
    $("open-polls").replaceChildren(...open.map(pollItem));
    $("other-polls").replaceChildren(...other.map(pollItem));
    $("other-section").hidden = other.length === 0;
    $("status").textContent =
      open.length === 0
        ? "No polls are open right now."
        : `${open.length} open ${open.length === 1 ? "poll" : "polls"}.`;
    banner.hidden = true;
  } catch {
    banner.textContent = "Connection lost — retrying. The list may be out of date.";
    banner.hidden = false;
  }
}

load();
setInterval(load, REFRESH_MS);
