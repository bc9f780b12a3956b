// Schools (the deployment admin's): the list with live figures (the API's `figures=true`,
// read for the page shown only), a page at a time; create, invite admins.
import { api } from "./api.js";
import {
  Dialog,
  ErrorNote,
  html,
  PAGE_SIZE,
  Pager,
  queryString,
  SearchBox,
  useKeysetPages,
  usePolled,
  useState,
} from "./ui.js";

const LIVE_MS = 5_000;

/**
 * Every school, for the deployment admin's pickers (a school admin has only its own): the
 * pages walked once when the picker is shown (1,000 schools: ten requests).
 */
export function useSchools() {
  const [schools] = usePolled(async () => {
    const all = [];
    let after;
    do {
      const page = await api("GET", `/v1/schools${queryString({ limit: 100, after })}`);
      all.push(...page.schools);
      after = page.next;
    } while (after);
    return all;
  }, 0);
  return schools ?? [];
}

export function SchoolPicker({ value, onChange, all = false }) {
  const schools = useSchools();
  return html`<label class="inline">School
    <select value=${value} onChange=${(e) => onChange(e.target.value)}>
      ${all ? html`<option value="">All schools</option>` : null}
      ${schools.map((s) => html`<option value=${s.id}>${s.name} (${s.id})</option>`)}
    </select>
  </label>`;
}

export function InviteForm({ schoolId, onCancel }) {
  const [invite, setInvite] = useState(undefined);
  const [error, setError] = useState(undefined);
  const submit = async (event) => {
    event.preventDefault();
    const label = String(new FormData(event.target).get("label"));
    try {
      setInvite(
        await api("POST", "/v1/console/invites", {
          label,
          ...(schoolId ? { schoolId } : {}),
        }),
      );
    } catch (e) {
      setError(e);
    }
  };
  if (invite)
    return html`<div class="stack">
      <p>Send this link to the person you invite. It signs in once, until ${new Date(invite.expiresAt).toLocaleString()}.</p>
      <label>Invite link<input readonly value=${invite.link} class="link" onFocus=${(e) => e.target.select()} /></label>
      <p class="actions"><button type="button" onClick=${onCancel}>Done</button></p>
    </div>`;
  return html`<form class="stack" onSubmit=${submit}>
    <${ErrorNote} error=${error} />
    <label>Who is it for (a name or role)<input name="label" required maxlength="200" /></label>
    <p class="actions">
      <button type="submit">Create invite link</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </p>
  </form>`;
}

export function SchoolsView() {
  const [q, setQ] = useState("");
  const [schools, loadError, reload, pager] = useKeysetPages(
    (after) =>
      api("GET", `/v1/schools${queryString({ figures: true, q, limit: PAGE_SIZE, after })}`),
    LIVE_MS,
    [q],
  );
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState(undefined);
  const [inviting, setInviting] = useState(undefined); // a school id, or "" for the deployment
  const [error, setError] = useState(undefined);
  const create = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await api("POST", "/v1/schools", {
        id: String(form.get("id")),
        name: String(form.get("name")),
        timeZone: String(form.get("timeZone")) || undefined,
      });
      setCreating(false);
      reload();
    } catch (e) {
      setError(e);
    }
  };
  const save = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await api("PATCH", `/v1/schools/${encodeURIComponent(editing.id)}`, {
        name: String(form.get("name")),
        timeZone: String(form.get("timeZone")),
      });
      setEditing(undefined);
      reload();
    } catch (e) {
      setError(e);
    }
  };
  const list = schools?.schools ?? [];
  return html`
    <div class="toolbar">
      <${SearchBox} label="Search schools" value=${q} onSearch=${setQ} />
      <button type="button" onClick=${() => setCreating(true)}>New school</button>
      <button type="button" onClick=${() => setInviting("")}>Invite a deployment admin</button>
    </div>
    <${ErrorNote} error=${loadError} />
    ${
      creating
        ? html`<${Dialog} title="New school" onClose=${() => setCreating(false)}>
          <form class="stack" onSubmit=${create}>
            <${ErrorNote} error=${error} />
            <label>Id (in links)<input name="id" required pattern="[A-Za-z0-9_-]{1,64}" /></label>
            <label>Name<input name="name" required maxlength="200" /></label>
            <label>Time zone<input name="timeZone" placeholder="Europe/Paris" /></label>
            <p class="actions"><button type="submit">Create school</button>
            <button type="button" onClick=${() => setCreating(false)}>Cancel</button></p>
          </form>
        </${Dialog}>`
        : null
    }
    ${
      editing
        ? html`<${Dialog} title=${`Edit ${editing.name}`} onClose=${() => setEditing(undefined)}>
          <form class="stack" onSubmit=${save}>
            <${ErrorNote} error=${error} />
            <label>Name<input name="name" required maxlength="200" defaultValue=${editing.name} /></label>
            <label>Time zone<input name="timeZone" required defaultValue=${editing.timeZone} /></label>
            <p class="actions"><button type="submit">Save</button>
            <button type="button" onClick=${() => setEditing(undefined)}>Cancel</button></p>
          </form>
        </${Dialog}>`
        : null
    }
    ${
      inviting !== undefined
        ? html`<${Dialog} title=${inviting ? `Invite an admin of ${inviting}` : "Invite a deployment admin"} onClose=${() => setInviting(undefined)}>
          <${InviteForm} schoolId=${inviting} onCancel=${() => setInviting(undefined)} />
        </${Dialog}>`
        : null
    }
    <div class="scroll">
    <table>
      <caption class="visually-hidden">Schools and their live figures</caption>
      <thead><tr><th scope="col">School</th><th scope="col">Polls</th><th scope="col">Open now</th><th scope="col">Kiosks</th><th scope="col">Votes waiting</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>
        ${list.map(
          (s) => html`<tr data-school=${s.id}>
            <th scope="row">${s.name} <span class="muted">${s.id}</span></th>
            <td>${s.figures?.polls}</td><td>${s.figures?.openPolls}</td><td>${s.figures?.kiosks}</td><td>${s.figures?.votesWaiting ?? "–"}</td>
            <td class="actions">
              <button type="button" onClick=${() => setEditing(s)} aria-label=${`Edit ${s.name}`}>Edit</button>
              <button type="button" onClick=${() => setInviting(s.id)} aria-label=${`Invite admin of ${s.name}`}>Invite admin</button>
            </td>
          </tr>`,
        )}
      </tbody>
    </table>
    </div>
    <${Pager} pager=${pager} label="Schools" />`;
}
