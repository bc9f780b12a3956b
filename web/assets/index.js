// The poll list at / (the default school) and /s/:schoolId (a school's own): open polls
// first, with links to their dashboard and kiosk display.

import { el, windowText } from "./format.js";
import { noteServerDate, serverNow } from "./live.js";

const REFRESH_MS = 30_000;
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const schoolId = /^\/s\/([^/]+)$/.exec(location.pathname)?.[1];
const LIST_URL =
  schoolId === undefined ? "/v1/public/polls" : `/v1/public/polls?schoolId=${schoolId}`;

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
    const response = await fetch(LIST_URL, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    noteServerDate(response);
    const { school, polls } = await response.json();
    if (schoolId !== undefined) {
      $("heading").textContent = `Open polls — ${school.name}`;
      document.title = `Polls — ${school.name} — tallyflow`;
    }
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
