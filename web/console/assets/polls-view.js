// Polls: the list (paged) with live results beside each, create and edit, open or close now,
// archive, delete with a confirmation that says what is lost.
import { api } from "./api.js";
import { PollExports } from "./poll-exports.js";
import { SchoolPicker } from "./schools-view.js";
import {
  Dialog,
  ErrorNote,
  html,
  PAGE_SIZE,
  Pager,
  queryString,
  SearchBox,
  useKeysetPages,
  useState,
} from "./ui.js";

const LIVE_MS = 3_000;

/** A page of polls (keyset), and the live results of its polls (one read each, from memory). */
async function loadPolls(schoolId, q, after) {
  const query = queryString({ schoolId, q, limit: PAGE_SIZE, after });
  const { polls: shown, next } = await api("GET", `/v1/polls${query}`);
  const results = await Promise.all(
    shown.map((p) =>
      fetch(`/v1/polls/${encodeURIComponent(p.id)}/results`).then((r) =>
        r.ok ? r.json() : undefined,
      ),
    ),
  );
  return { next, shown: shown.map((p, i) => ({ ...p, results: results[i] })) };
}

function phaseOf(poll) {
  const now = Date.now();
  if (poll.archived) return "archived";
  if (poll.opensAt && Date.parse(poll.opensAt) > now) return "not open";
  if (poll.closesAt && Date.parse(poll.closesAt) <= now) return "closed";
  return "open";
}

function Results({ results }) {
  if (!results) return html`<span class="muted">no votes yet</span>`;
  if (results.hidden) return html`<span class="muted">hidden until it closes</span>`;
  return html`<span class="results" data-total=${results.totalVotes}>
    <strong>${results.totalVotes} ${results.totalVotes === 1 ? "vote" : "votes"}</strong>
    ${results.options.map((o) => html` <span class="chip">${o.label}: ${o.count}</span>`)}
  </span>`;
}

/**
 * Uncontrolled fields (defaultValue, defaultChecked): the list behind the dialog refreshes
 * every few seconds, and a `value` would put back what was there at each refresh.
 */
function PollForm({ poll, schoolId, deployment, onDone, onCancel }) {
  const [error, setError] = useState(undefined);
  const [school, setSchool] = useState(schoolId ?? "default");
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const options = String(form.get("options"))
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .map((label, i) => ({
        id:
          label
            .toLowerCase()
            .replace(/[^a-z0-9]+/g, "-")
            .replace(/^-|-$/g, "") || `o${i + 1}`,
        label,
      }));
    const body = {
      title: String(form.get("title")),
      options,
      resultsVisibility: form.get("hidden") ? "after_close" : "live",
      oneVotePerVoter: Boolean(form.get("oneVote")),
      voters: form.get("roster") ? "roster" : "any",
    };
    const opensAt = String(form.get("opensAt"));
    const closesAt = String(form.get("closesAt"));
    // The fields are UTC wall times (labelled so), as `local` fills them.
    body.opensAt = opensAt ? new Date(`${opensAt}Z`).toISOString() : null;
    body.closesAt = closesAt ? new Date(`${closesAt}Z`).toISOString() : null;
    try {
      if (poll) await api("PATCH", `/v1/polls/${encodeURIComponent(poll.id)}`, body);
      else
        await api("POST", "/v1/polls", {
          ...body,
          id: String(form.get("slug")),
          ...(deployment ? { schoolId: school } : {}),
        });
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  const local = (iso) => (iso ? new Date(iso).toISOString().slice(0, 16) : "");
  return html`<form class="stack" onSubmit=${submit}>
    <${ErrorNote} error=${error} />
    ${
      poll
        ? null
        : html`<label>Short name (in links)<input name="slug" required pattern="[A-Za-z0-9_-]{1,64}" /></label>
          ${deployment ? html`<${SchoolPicker} value=${school} onChange=${setSchool} />` : null}`
    }
    <label>Title<input name="title" required maxlength="200" defaultValue=${poll?.title ?? ""} /></label>
    <label>Options, one a line<textarea name="options" rows="4" required defaultValue=${(poll?.options ?? []).map((o) => o.label).join("\n")}></textarea></label>
    <label>Opens at (UTC)<input name="opensAt" type="datetime-local" defaultValue=${local(poll?.opensAt)} /></label>
    <label>Closes at (UTC)<input name="closesAt" type="datetime-local" defaultValue=${local(poll?.closesAt)} /></label>
    <label class="check"><input type="checkbox" name="hidden" defaultChecked=${poll?.resultsVisibility === "after_close"} /> Hide results until it closes</label>
    <label class="check"><input type="checkbox" name="oneVote" defaultChecked=${poll?.oneVotePerVoter} /> One vote per voter</label>
    <label class="check"><input type="checkbox" name="roster" defaultChecked=${poll?.voters === "roster"} /> Only people on the school's roster</label>
    <p class="actions">
      <button type="submit">${poll ? "Save" : "Create poll"}</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </p>
  </form>`;
}

function ConfirmDelete({ poll, onDone, onCancel }) {
  const [error, setError] = useState(undefined);
  const votes = poll.results && !poll.results.hidden ? poll.results.totalVotes : undefined;
  const remove = async () => {
    try {
      if (!poll.archived)
        await api("PATCH", `/v1/polls/${encodeURIComponent(poll.id)}`, { archived: true });
      await api("DELETE", `/v1/polls/${encodeURIComponent(poll.id)}`);
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  return html`<${Dialog} title=${`Delete “${poll.title}”?`} onClose=${onCancel}>
    <${ErrorNote} error=${error} />
    <p>This cannot be undone. Deleting the poll removes for good:</p>
    <ul>
      <li>${votes === undefined ? "all its votes" : `its ${votes} votes`} and its results (screens stop showing them),</li>
      <li>its options and settings,</li>
      <li>its place on every kiosk.</li>
    </ul>
    <p>Votes that could not be stored (dead letters) are kept.</p>
    <p class="actions">
      <button type="button" class="danger" onClick=${remove}>Delete poll and its votes</button>
      <button type="button" onClick=${onCancel}>Keep it</button>
    </p>
  </${Dialog}>`;
}

export function PollsView({ session }) {
  const deployment = session.role === "deployment";
  const [schoolId, setSchoolId] = useState("");
  const [q, setQ] = useState("");
  const [editing, setEditing] = useState(undefined); // undefined: none; null: a new poll
  const [deleting, setDeleting] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [polls, loadError, reload, pager] = useKeysetPages(
    (after) => loadPolls(schoolId, q, after),
    LIVE_MS,
    [schoolId, q],
  );
  const change = async (poll, patch) => {
    try {
      await api("PATCH", `/v1/polls/${encodeURIComponent(poll.id)}`, patch);
      reload();
    } catch (e) {
      setError(e);
    }
  };
  const done = () => {
    setEditing(undefined);
    setDeleting(undefined);
    reload();
  };
  const shown = polls?.shown ?? [];
  return html`
    <div class="toolbar">
      ${deployment ? html`<${SchoolPicker} value=${schoolId} onChange=${setSchoolId} all />` : null}
      <${SearchBox} label="Search polls" value=${q} onSearch=${setQ} />
      <button type="button" onClick=${() => setEditing(null)}>New poll</button>
    </div>
    <${ErrorNote} error=${error ?? loadError} />
    ${
      editing !== undefined
        ? html`<${Dialog} title=${editing ? `Edit “${editing.title}”` : "New poll"} onClose=${() => setEditing(undefined)} wide>
          <${PollForm} poll=${editing} schoolId=${schoolId || undefined} deployment=${deployment}
            onDone=${done} onCancel=${() => setEditing(undefined)} />
        </${Dialog}>`
        : null
    }
    ${deleting ? html`<${ConfirmDelete} poll=${deleting} onDone=${done} onCancel=${() => setDeleting(undefined)} />` : null}
    ${polls === undefined ? html`<p>Loading…</p>` : null}
    ${polls !== undefined && shown.length === 0 && !pager.hasPrevious ? html`<p>${q ? "No poll matches." : "No polls yet."}</p>` : null}
    <ul class="cards" aria-label="Polls">
      ${shown.map((p) => {
        const phase = phaseOf(p);
        return html`<li class="card" data-poll=${p.id}>
          <h2>${p.title}</h2>
          <p class="meta"><span class=${`badge ${phase.replace(" ", "-")}`}>${phase}</span> ${p.id}${deployment ? ` · ${p.schoolId}` : ""}</p>
          <p><${Results} results=${p.results} /></p>
          <p class="actions">
            <button type="button" onClick=${() => setEditing(p)} aria-label=${`Edit ${p.title}`}>Edit</button>
            ${
              phase === "open"
                ? html`<button type="button" onClick=${() => change(p, { closesAt: new Date().toISOString() })} aria-label=${`Close now: ${p.title}`}>Close now</button>`
                : phase !== "archived"
                  ? html`<button type="button" onClick=${() => change(p, { opensAt: new Date().toISOString(), closesAt: null })} aria-label=${`Open now: ${p.title}`}>Open now</button>`
                  : null
            }
            <button type="button" onClick=${() => change(p, { archived: !p.archived })} aria-label=${`${p.archived ? "Restore" : "Archive"} ${p.title}`}>${p.archived ? "Restore" : "Archive"}</button>
            <button type="button" class="danger" onClick=${() => setDeleting(p)} aria-label=${`Delete ${p.title}`}>Delete</button>
            <a href=${`/dashboard/${encodeURIComponent(p.id)}`}>Dashboard</a>
            <${PollExports} poll=${p} />
          </p>
        </li>`;
      })}
    </ul>
    <${Pager} pager=${pager} label="Polls" />`;
}
