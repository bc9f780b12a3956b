// The voting page's check-in mode (an attendance register): what it knows of a person's
// state (the server's "already checked in" answer and the check-ins this page queued), the
// temperature field's check, and what the page says. vote.js drives the page.

/** A temperature as typed: "36.6" or "36,6"; at most one decimal. The range is the school's. */
const TEMPERATURE = /^-?\d{1,3}(?:[.,]\d)?$/;

/**
 * `{value}` (undefined when the field is empty: a temperature is optional) or `{error}`.
 * Only the form is checked here; the school's range is the API's (422, shown when it answers).
 */
export function parseTemperature(text) {
  const t = text.trim();
  if (t === "") return { value: undefined };
  if (!TEMPERATURE.test(t))
    return { error: "Type degrees Celsius with at most one decimal, e.g. 36.6." };
  return { value: Number(t.replace(",", ".")) };
}

/**
 * GET /v1/kiosk/people/:personId/attendance: `{kind: "state", state, sinceMs}`,
 * `{kind: "unknown_person"}` (422: not on the school's roster), or `{kind: "unavailable"}`
 * (offline, Redis being rebuilt, any other answer). Never from a cache: it is personal data,
 * and the service worker leaves this route alone.
 */
export async function lookUpPresence(token, personId) {
  try {
    const response = await fetch(`/v1/kiosk/people/${encodeURIComponent(personId)}/attendance`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
    if (response.status === 422) return { kind: "unknown_person" };
    if (!response.ok) return { kind: "unavailable" };
    const body = await response.json();
    return {
      kind: "state",
      state: body.state,
      sinceMs: body.since === null ? null : Date.parse(body.since),
    };
  } catch {
    return { kind: "unavailable" };
  }
}

/** Later first; in the same second, out over in (the server's rule). */
function later(a, b) {
  const sa = Math.floor(a.sinceMs / 1000);
  const sb = Math.floor(b.sinceMs / 1000);
  if (sa !== sb) return sa > sb ? a : b;
  return a.state === "out" ? a : b;
}

/**
 * The check-ins and check-outs this page queued, per person, until the page is left: the
 * server may not have them yet (offline, or the outbox has not sent them), so a second scan
 * still shows the person's state.
 */
export class RecentPresence {
  #byPerson = new Map();

  remember(personId, state, sinceMs, eventId) {
    const known = this.#byPerson.get(personId);
    const next = { state, sinceMs, eventId };
    this.#byPerson.set(personId, known ? later(known, next) : next);
  }

  /** A refused event never happened. */
  forget(personId, eventId) {
    if (this.#byPerson.get(personId)?.eventId === eventId) this.#byPerson.delete(personId);
  }

  /** The server's answer with what this page queued since: the later of the two. */
  combine(personId, answer) {
    const mine = this.#byPerson.get(personId);
    if (answer.kind === "unknown_person" || mine === undefined) return answer;
    if (answer.kind === "unavailable" || answer.state === "none")
      return { kind: "state", state: mine.state, sinceMs: mine.sinceMs };
    const server = { state: answer.state, sinceMs: answer.sinceMs };
    const shown = later(server, mine);
    return { kind: "state", state: shown.state, sinceMs: shown.sinceMs };
  }
}

/** The action to offer: the other one than the person's state (none for an unknown state). */
export function suggestedAction(answer) {
  if (answer.kind !== "state") return undefined;
  return answer.state === "in" ? "out" : "in";
}

/** What the page says of a person after a scan. */
export function presenceText(personId, answer, formatTime) {
  if (answer.kind === "unknown_person")
    return `${personId} is not on this school's roster. Scan again or ask at the office.`;
  if (answer.kind === "unavailable")
    return `${personId}: today's state is not known right now (offline?). Choose Check in or Check out.`;
  if (answer.state === "in")
    return `${personId} is checked in since ${formatTime(answer.sinceMs)}.`;
  if (answer.state === "out") return `${personId} checked out at ${formatTime(answer.sinceMs)}.`;
  return `${personId} has not checked in today.`;
}

/** What a refused check-in or check-out was, in words, for the banner. */
export function refusalText(entry, error) {
  const what = entry.optionId === "out" ? "check-out" : "check-in";
  if (error.code === "unknown_person")
    return `${entry.voterId} is not on this school's roster: that ${what} was not counted.`;
  if (error.code === "temperature_out_of_range")
    return `The ${what} of ${entry.voterId} was refused: ${error.message}. Take the temperature again and repeat the ${what}.`;
  return `The ${what} of ${entry.voterId} was refused: ${error.message}`;
}
