// /vote/:pollId: the voting page. One big button per option; a vote is written to the
// outbox (IndexedDB) before the page says thank you, then the buttons rest for the poll's
// voteCooldownMs (against button-mashing). The outbox alone sends votes.

import { instantMs, pollPhase } from "/common/browser/poll-phase.js";
import { formatTime } from "./format.js";
import { fetchKiosk, loadCredentials, openOutbox, registerServiceWorker } from "./kiosk-session.js";
import { showOutboxStatus } from "./kiosk-status.js";

const DEFAULT_COOLDOWN_MS = 2000; // the API's default, for a poll that does not say
const MIN_THANKS_MS = 1500; // the thank-you stays readable even with no cooldown
const PHASE_CHECK_MS = 1000;
const REFRESH_MS = 60_000;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const pollId = decodeURIComponent(location.pathname.split("/")[2] ?? "");

let poll; // the public poll, with its options
let outbox;
let locked = false; // in the cooldown after a vote
let blocked = ""; // why this kiosk cannot vote at all (revoked, not allowed), or ""
let reloadWhenIdle = false;
let thanksTimer;

function banner(text) {
  $("banner").textContent = text ?? "";
  $("banner").hidden = !text;
}

function message(text) {
  $("message").textContent = text ?? "";
  $("message").hidden = !text;
}

const buttons = () =>
  /** @type {HTMLButtonElement[]} */ ([...$("options").querySelectorAll("button")]);

function setLocked(value) {
  locked = value;
  for (const b of buttons()) b.setAttribute("aria-disabled", String(value || blocked !== ""));
  if (!value && reloadWhenIdle) location.reload();
}

/** One vote per voter, or only the school's roster: the vote must say who is voting. */
function needsVoterId() {
  return poll?.oneVotePerVoter === true || poll?.voters === "roster";
}

function cooldownMs() {
  const ms = poll?.voteCooldownMs;
  return Number.isInteger(ms) && ms >= 0 ? ms : DEFAULT_COOLDOWN_MS;
}

function labelOf(entry) {
  const option = poll?.options?.find((o) => o.id === entry.optionId);
  return option ? option.label : entry.optionId;
}

async function vote(option) {
  if (locked || blocked) return;
  const voterInput = /** @type {HTMLInputElement} */ ($("voter-id"));
  const voterId = needsVoterId() ? voterInput.value.trim() : undefined;
  if (needsVoterId() && !voterId) {
    banner("Scan your badge or type your voter ID first.");
    voterInput.focus();
    return;
  }
  setLocked(true);
  try {
    await outbox.enqueue({ pollId, optionId: option.id, ...(voterId ? { voterId } : {}) });
  } catch (err) {
    // Never a thank-you for a vote that is not stored.
    banner(`Your vote could not be saved (${err?.message ?? err}). Please try again.`);
    setLocked(false);
    return;
  }
  banner(undefined);
  const thanks = $("thanks");
  thanks.textContent = `Thank you! Your vote for ${option.label} is saved.`;
  thanks.hidden = false;
  voterInput.value = "";
  clearTimeout(thanksTimer);
  thanksTimer = setTimeout(
    () => {
      thanks.hidden = true;
    },
    Math.max(cooldownMs(), MIN_THANKS_MS),
  );
  setTimeout(() => {
    setLocked(false);
    if (needsVoterId()) voterInput.focus();
  }, cooldownMs());
}

function renderOptions() {
  const box = $("options");
  box.replaceChildren(
    ...poll.options.map((option) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "vote-option";
      button.textContent = option.label;
      button.dataset.optionId = option.id;
      button.setAttribute("aria-disabled", String(locked || blocked !== ""));
      button.addEventListener("click", () => vote(option));
      return button;
    }),
  );
  box.dataset.count = String(poll.options.length);
}

/** Shows the buttons only while the poll is open (checked every second, offline too). */
function checkPhase() {
  if (!poll) return;
  const phase = pollPhase(
    { opensAtMs: instantMs(poll.opensAt), closesAtMs: instantMs(poll.closesAt) },
    Date.now(),
  );
  const open = phase === "open" && !blocked;
  $("options").hidden = !open;
  $("voter-form").hidden = !open || !needsVoterId();
  if (blocked) message(undefined);
  else if (phase === "not_open")
    message(`This poll opens at ${formatTime(new Date(poll.opensAt), poll.timeZone)}.`);
  else if (phase === "closed") message("This poll is closed. Thank you for voting.");
  else message(needsVoterId() ? undefined : "Tap your choice.");
}

function block(text) {
  blocked = text;
  banner(text);
  setLocked(locked);
  checkPhase();
}

async function loadPoll(token) {
  let response;
  try {
    response = await fetch(`/v1/public/polls/${encodeURIComponent(pollId)}`);
  } catch {
    if (!poll)
      message("The server cannot be reached, and this poll was not saved on this kiosk yet.");
    return;
  }
  if (response.status === 404) {
    poll = undefined;
    $("options").replaceChildren();
    return message("This poll does not exist.");
  }
  if (!response.ok) return;
  const fresh = await response.json();
  const kiosk = await fetchKiosk(token);
  if (kiosk.kind === "revoked") block("This kiosk has been revoked. Votes still waiting are kept.");
  else if (kiosk.kind === "unpaired") block("This kiosk's pairing was replaced. Pair it again.");
  else if (kiosk.kind === "ok") {
    const allowed = kiosk.kiosk.pollIds;
    if (Array.isArray(allowed) && !allowed.includes(pollId))
      block("This kiosk may not vote in this poll.");
    // The kiosk's copy may carry more (voteCooldownMs); the public poll has the options.
    Object.assign(fresh, { ...kiosk.kiosk.polls?.find((p) => p.id === pollId), ...fresh });
  }
  const relabel = JSON.stringify(fresh.options) !== JSON.stringify(poll?.options);
  poll = fresh;
  $("title").textContent = poll.title;
  document.title = `${poll.title} — tallyflow`;
  if (relabel) renderOptions();
  checkPhase();
}

async function main() {
  const credentials = await loadCredentials();
  registerServiceWorker({
    onUpdate: () => {
      if (locked) reloadWhenIdle = true;
      else location.reload();
    },
    onControlled: () => credentials && loadPoll(credentials.token),
  });
  if (!credentials) {
    $("kiosk-status").hidden = true;
    $("message").textContent = "This kiosk is not paired yet. ";
    const link = document.createElement("a");
    link.href = "/pair";
    link.textContent = "Pair it";
    $("message").append(link);
    return;
  }
  outbox = await openOutbox(credentials.token);
  showOutboxStatus(outbox, {
    labelOf,
    onStatus: (status) => {
      if (status.state === "revoked" && !blocked)
        block("This kiosk has been revoked or re-paired: votes are kept but cannot be sent.");
    },
  });
  outbox.on("refused", ({ refused }) => {
    const mine = refused.filter((r) => r.entry.pollId === pollId);
    const voted = mine.find((r) => r.error.code === "already_voted");
    if (voted) banner(`Voter ${voted.entry.voterId} has already voted: that vote was not counted.`);
    else if (mine.length > 0)
      banner(`A vote for ${labelOf(mine[0].entry)} was refused: ${mine[0].error.message}`);
  });
  $("voter-form").addEventListener("submit", (event) => {
    // A badge scanner types the id and Enter: go on to the choices.
    event.preventDefault();
    buttons()[0]?.focus();
  });
  await loadPoll(credentials.token);
  setInterval(checkPhase, PHASE_CHECK_MS);
  setInterval(() => loadPoll(credentials.token), REFRESH_MS);
  if (needsVoterId()) $("voter-id").focus();
}

main();
