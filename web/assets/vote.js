// /vote/:pollId: the voting page. One big button per option; a vote is written to the
// outbox (IndexedDB) before the page says thank you, then the buttons rest for the poll's
// voteCooldownMs (against button-mashing). The outbox alone sends votes.
//
// An attendance register's page is its check-in mode: a badge scan (the scanner types the
// id and Enter) shows the person's state today and highlights the other action (Check in
// or Check out), with an optional temperature; check-ins go through the same outbox, so
// they wait offline like votes. The state comes from the API's "already checked in" answer
// and the check-ins this page queued (check-in.js).

import { instantMs, pollPhase } from "/common/browser/poll-phase.js";
import {
  lookUpPresence,
  parseTemperature,
  presenceText,
  RecentPresence,
  refusalText,
  suggestedAction,
} from "./check-in.js";
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
let token; // the kiosk's, for the check-in mode's state lookups
let lookups = 0; // the latest scan's lookup: an older answer is dropped
let unknownPerson = ""; // the last scan was no person of the school's roster
const recent = new RecentPresence();

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

/** An attendance register: the page is in its check-in mode. */
function checkInMode() {
  return poll?.kind === "attendance";
}

const voterField = () => /** @type {HTMLInputElement} */ ($("voter-id"));
const temperatureInput = () => /** @type {HTMLInputElement} */ ($("temperature"));

function personState(text) {
  $("person-state").textContent = text ?? "";
  $("person-state").hidden = !text;
}

function temperatureError(text) {
  $("temperature-error").textContent = text ?? "";
  $("temperature-error").hidden = !text;
  if (text) temperatureInput().setAttribute("aria-invalid", "true");
  else temperatureInput().removeAttribute("aria-invalid");
}

/** Highlights the action to offer (data-suggested), or none. */
function suggest(optionId) {
  for (const b of buttons())
    if (optionId && b.dataset.optionId === optionId) b.dataset.suggested = "true";
    else delete b.dataset.suggested;
}

const suggestedButton = () => buttons().find((b) => b.dataset.suggested === "true");

/** A badge was scanned (or typed, then Enter): show the person's state, offer the other action. */
async function scanned() {
  const personId = voterField().value.trim();
  if (!personId || !token) return;
  const lookup = ++lookups;
  unknownPerson = "";
  suggest(undefined);
  banner(undefined);
  personState(`${personId}: looking up…`);
  const answer = recent.combine(personId, await lookUpPresence(token, personId));
  // Another scan since: its answer is the one to show.
  if (lookup !== lookups || voterField().value.trim() !== personId) return;
  personState(
    presenceText(personId, answer, (ms) => formatTime(new Date(ms), poll?.timeZone ?? "UTC")),
  );
  if (answer.kind === "unknown_person") {
    unknownPerson = personId;
    voterField().select();
    return;
  }
  suggest(suggestedAction(answer));
  (suggestedButton() ?? buttons()[0])?.focus();
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
    banner(
      checkInMode()
        ? "Scan a badge or type its ID first."
        : "Scan your badge or type your voter ID first.",
    );
    voterInput.focus();
    return;
  }
  let temperatureC;
  if (checkInMode()) {
    if (voterId === unknownPerson) {
      banner(`${voterId} is not on this school's roster. Scan again.`);
      voterInput.focus();
      return;
    }
    const temperature = parseTemperature(temperatureInput().value);
    temperatureError(temperature.error);
    if (temperature.error) return temperatureInput().focus();
    temperatureC = temperature.value;
  }
  setLocked(true);
  let queued;
  try {
    queued = await outbox.enqueue({
      pollId,
      optionId: option.id,
      ...(voterId ? { voterId } : {}),
      ...(temperatureC !== undefined ? { temperatureC } : {}),
    });
  } catch (err) {
    // Never a thank-you for a vote that is not stored.
    banner(`Your vote could not be saved (${err?.message ?? err}). Please try again.`);
    setLocked(false);
    return;
  }
  banner(undefined);
  const thanks = $("thanks");
  if (checkInMode()) {
    const atMs = Date.parse(queued.castAt);
    recent.remember(voterId, option.id, atMs, queued.eventId);
    const at = formatTime(new Date(atMs), poll.timeZone);
    const degrees = temperatureC === undefined ? "" : `, ${temperatureC.toFixed(1)} °C`;
    thanks.textContent = `${voterId} ${option.id === "out" ? "checked out" : "checked in"} at ${at}${degrees}.`;
    temperatureInput().value = "";
    personState(undefined);
    suggest(undefined);
  } else thanks.textContent = `Thank you! Your vote for ${option.label} is saved.`;
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
      // The check-in mode's state line describes the actions (which one is offered).
      if (checkInMode()) button.setAttribute("aria-describedby", "person-state");
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
  $("temperature-field").hidden = !open || !checkInMode();
  if (!open) personState(undefined);
  if (blocked) message(undefined);
  else if (phase === "not_open")
    message(`This poll opens at ${formatTime(new Date(poll.opensAt), poll.timeZone)}.`);
  else if (phase === "closed") message("This poll is closed. Thank you for voting.");
  else message(needsVoterId() ? undefined : "Tap your choice.");
}

/** The badge field's words in the check-in mode. */
function enterCheckInMode() {
  $("voter-label").textContent = "Badge — scan it or type the ID";
  $("voter-hint").textContent = "Then Enter: the person's state shows, and the action to take.";
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
  if (checkInMode()) enterCheckInMode();
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
  token = credentials.token;
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
    if (checkInMode()) {
      for (const r of mine) recent.forget(r.entry.voterId, r.entry.eventId);
      if (mine.length > 0) banner(refusalText(mine[0].entry, mine[0].error));
      return;
    }
    const voted = mine.find((r) => r.error.code === "already_voted");
    if (voted) banner(`Voter ${voted.entry.voterId} has already voted: that vote was not counted.`);
    else if (mine.length > 0)
      banner(`A vote for ${labelOf(mine[0].entry)} was refused: ${mine[0].error.message}`);
  });
  $("voter-form").addEventListener("submit", (event) => {
    // A badge scanner types the id and Enter: go on to the choices (in the check-in mode,
    // after showing the person's state).
    event.preventDefault();
    if (checkInMode()) scanned();
    else buttons()[0]?.focus();
  });
  $("voter-id").addEventListener("input", () => {
    if (!checkInMode()) return;
    personState(undefined);
    suggest(undefined);
  });
  $("temperature").addEventListener("input", () => temperatureError(undefined));
  $("temperature").addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const offered = suggestedButton();
    if (offered) offered.click();
    else buttons()[0]?.focus();
  });
  await loadPoll(credentials.token);
  setInterval(checkPhase, PHASE_CHECK_MS);
  setInterval(() => loadPoll(credentials.token), REFRESH_MS);
  if (needsVoterId()) $("voter-id").focus();
}

main();
