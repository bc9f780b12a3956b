// /vote: the kiosk's home, the polls it may vote in (GET /v1/kiosk, from the service
// worker's cache when offline), and its queue's status. Its outbox sends waiting votes
// from here too.

import { el, windowText } from "./format.js";
import { fetchKiosk, loadCredentials, openOutbox, registerServiceWorker } from "./kiosk-session.js";
import { showOutboxStatus } from "./kiosk-status.js";

const REFRESH_MS = 60_000;
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

function banner(text) {
  $("banner").textContent = text ?? "";
  $("banner").hidden = !text;
}

function pollItem(poll) {
  const item = el("li", null, { "data-poll-id": poll.id });
  if (poll.status === "open") {
    item.append(
      el("a", poll.title, { href: `/vote/${encodeURIComponent(poll.id)}`, class: "big-link" }),
    );
  } else {
    item.append(el("span", poll.title, { class: "big-link is-waiting" }));
  }
  item.append(el("span", windowText(poll, Date.now()), { class: "poll-window" }));
  return item;
}

async function load(credentials) {
  const answer = await fetchKiosk(credentials.token);
  if (answer.kind === "revoked") {
    $("polls").replaceChildren();
    $("message").textContent = "";
    return banner(
      "This kiosk has been revoked. Votes still waiting are kept; ask an administrator.",
    );
  }
  if (answer.kind === "unpaired") {
    $("polls").replaceChildren();
    $("message").replaceChildren(
      "This kiosk's pairing was replaced or is unknown. ",
      el("a", "Pair it again", { href: "/pair" }),
    );
    return banner(undefined);
  }
  if (answer.kind === "unavailable") {
    return banner("The server cannot be reached, and no list of polls was saved yet.");
  }
  const { kiosk, cachedAt } = answer;
  $("kiosk-name").textContent = kiosk.name;
  banner(
    cachedAt
      ? `Offline: the list of polls as of ${new Date(cachedAt).toLocaleString("en-GB")}.`
      : undefined,
  );
  const polls = kiosk.polls.filter((p) => p.status !== "closed");
  $("polls").replaceChildren(...polls.map(pollItem));
  const open = polls.filter((p) => p.status === "open").length;
  $("message").textContent =
    open === 0 ? "No poll is open on this kiosk right now." : "Choose a poll.";
}

async function main() {
  const credentials = await loadCredentials();
  registerServiceWorker({
    onUpdate: () => location.reload(),
    onControlled: () => credentials && load(credentials),
  });
  if (!credentials) {
    $("message").replaceChildren(
      "This kiosk is not paired yet. ",
      el("a", "Pair it", { href: "/pair" }),
    );
    return;
  }
  $("kiosk-name").textContent = credentials.name;
  const outbox = await openOutbox(credentials.token);
  showOutboxStatus(outbox);
  await load(credentials);
  setInterval(() => load(credentials), REFRESH_MS);
}

main();
