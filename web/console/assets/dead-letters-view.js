// Dead letters (the deployment admin's): what the writer set aside and why, paged oldest first
// (keyset), filtered by poll, reason and state; each replayed to the votes stream, or every
// pending one the filters keep, after a confirmation that says how many. A replay is safe to
// repeat: votes are stored once.
import { api } from "./api.js";
import { Dialog, ErrorNote, html, useEffect, useRef, useState } from "./ui.js";

const REASONS = {
  invalid: "invalid data",
  store_failed: "store failed",
  max_deliveries: "max deliveries",
};

function queryOf(filters) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
  return q.toString();
}

/** Pages of pending letters the confirmation counts before it says "more than": it stays quick. */
const COUNT_PAGES = 10;

/**
 * The pending letters `filters` keep, counted a page at a time (the list route has no count):
 * `{ count, more }`, `more` when there are others past COUNT_PAGES pages.
 */
async function countPending(filters) {
  let count = 0;
  let after;
  for (let i = 0; i < COUNT_PAGES; i++) {
    const q = queryOf({ pollId: filters.pollId, reason: filters.reason, state: "pending", after });
    const page = await api("GET", `/v1/dead-letters?${q}`);
    count += page.deadLetters.length;
    if (!page.next) return { count, more: false };
    after = page.next;
  }
  return { count, more: true };
}

const letters = (n) => `${n} pending dead letter${n === 1 ? "" : "s"}`;

/** Replay all, confirmed: how many the filters keep are published again, or nothing (Cancel). */
function ConfirmReplayAll({ filters, onConfirm, onCancel }) {
  const [pending, setPending] = useState(undefined);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    countPending(filters).then(setPending, setError);
  }, []);
  const kept = [
    filters.pollId && `poll ${filters.pollId}`,
    filters.reason && REASONS[filters.reason],
  ]
    .filter(Boolean)
    .join(", ");
  const which = kept ? ` (${kept})` : "";
  const what =
    pending === undefined
      ? error
        ? `Every pending dead letter${which}, up to DEAD_LETTERS_REPLAY_MAX, will be published to the votes stream again.`
        : "Counting the pending dead letters…"
      : pending.more
        ? `More than ${letters(pending.count)}${which}: up to DEAD_LETTERS_REPLAY_MAX of them (1,000 unless the deployment sets otherwise), oldest first, will be published to the votes stream again; replay again for the rest.`
        : pending.count === 0
          ? `No pending dead letter${which}: nothing to replay.`
          : `${letters(pending.count)}${which} will be published to the votes stream again.`;
  return html`<${Dialog} title="Replay all pending dead letters?" onClose=${onCancel}>
    <${ErrorNote} error=${error} />
    <p data-replay-count>${what}</p>
    <p>Fix their cause first. Each vote is stored once however often it is replayed.</p>
    <p class="actions">
      <button type="button" onClick=${onConfirm}>Replay them</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </p>
  </${Dialog}>`;
}

export function DeadLettersView() {
  const [filters, setFilters] = useState({ state: "pending" });
  const [letters, setLetters] = useState([]);
  const [next, setNext] = useState(null);
  const [error, setError] = useState(undefined);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  // The control that opened the confirmation: focus goes back to it when it closes.
  const opener = useRef(null);
  const refocus = () => setTimeout(() => opener.current?.focus(), 0);
  const load = async (after) => {
    try {
      const q = queryOf({ ...filters, after });
      const page = await api("GET", `/v1/dead-letters${q ? `?${q}` : ""}`);
      setLetters((old) => (after ? [...old, ...page.deadLetters] : page.deadLetters));
      setNext(page.next);
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    load();
  }, [filters]);

  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    setFilters({
      pollId: String(form.get("pollId") ?? "").trim(),
      reason: String(form.get("reason") ?? ""),
      state: String(form.get("state") ?? "pending"),
    });
  };
  const replay = async (letter) => {
    setBusy(true);
    try {
      const r = await api("POST", `/v1/dead-letters/${letter.id}/replay`);
      setNote(
        `Dead letter ${r.id} replayed as stream message ${r.seq}${r.duplicate ? " (it had been already)" : ""}.`,
      );
      await load();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const cancelReplayAll = () => {
    setConfirming(false);
    refocus();
  };
  const replayAll = async () => {
    setConfirming(false);
    setBusy(true);
    try {
      const q = queryOf({ pollId: filters.pollId, reason: filters.reason });
      const r = await api("POST", `/v1/dead-letters/replay${q ? `?${q}` : ""}`);
      setNote(
        `${r.replayed.length} dead letter${r.replayed.length === 1 ? "" : "s"} replayed${r.more ? "; more wait: replay again" : ""}.`,
      );
      await load();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
      refocus();
    }
  };

  return html`
    <p class="muted">Messages the writers could not store, with why. Fix the cause first (docs/operations.md), then replay: each vote is stored once however often it is replayed.</p>
    <form class="filters" onSubmit=${submit} aria-label="Filter the dead letters">
      <label>Poll id<input name="pollId" /></label>
      <label>Reason<select name="reason">
        <option value="">Any reason</option>
        ${Object.entries(REASONS).map(([v, label]) => html`<option value=${v}>${label}</option>`)}
      </select></label>
      <label>Shown<select name="state">
        <option value="pending">Not yet replayed</option>
        <option value="replayed">Replayed</option>
        <option value="all">All</option>
      </select></label>
      <p class="actions"><button type="submit">Filter</button>
        <button type="button" disabled=${busy} onClick=${(e) => {
          opener.current = e.currentTarget;
          setConfirming(true);
        }}>Replay all pending${filters.pollId || filters.reason ? " (filtered)" : ""}</button></p>
    </form>
    ${confirming ? html`<${ConfirmReplayAll} filters=${filters} onConfirm=${replayAll} onCancel=${cancelReplayAll} />` : null}
    <${ErrorNote} error=${error} />
    <p role="status" class="muted">${note}</p>
    <div class="scroll">
    <table class="dead-letters">
      <caption class="visually-hidden">Dead letters, oldest first</caption>
      <thead><tr><th scope="col">Id</th><th scope="col">First seen</th><th scope="col">Poll</th><th scope="col">Reason</th><th scope="col">Error</th><th scope="col">Deliveries</th><th scope="col">Message</th><th scope="col">Replayed</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>
        ${letters.map(
          (d) => html`<tr data-dead-letter=${d.id}>
            <td>${d.id}</td>
            <td>${new Date(d.firstSeen).toLocaleString()}${d.lastSeen !== d.firstSeen ? html`<br /><span class="muted">again ${new Date(d.lastSeen).toLocaleString()}</span>` : null}</td>
            <td>${d.pollId ?? d.subject}${d.itemIndex >= 0 ? html`<br /><span class="muted">vote ${d.itemIndex} of a batch</span>` : null}</td>
            <td><span class="chip">${REASONS[d.reason] ?? d.reason}</span></td>
            <td><code class="changes">${d.error}</code></td>
            <td>${d.deliveries}</td>
            <td><code class="changes">${d.raw}${d.rawBytes > d.raw.length ? "…" : ""}</code></td>
            <td>${d.replayedAt ? new Date(d.replayedAt).toLocaleString() : "–"}</td>
            <td><button type="button" disabled=${busy} onClick=${() => replay(d)}
              aria-label=${`Replay dead letter ${d.id}`}>${d.replayedAt ? "Replay again" : "Replay"}</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
    </div>
    ${letters.length === 0 ? html`<p>No dead letters.</p>` : null}
    ${next ? html`<p><button type="button" onClick=${() => load(next)}>More</button></p>` : null}`;
}
