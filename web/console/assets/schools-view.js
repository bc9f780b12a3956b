// Schools (the deployment admin's): the list with live figures, create, invite admins.
import { api } from "./api.js";
import { Dialog, ErrorNote, html, PAGE_SIZE, Pager, usePolled, useState } from "./ui.js";

const LIVE_MS = 5_000;

/** The schools, for the deployment admin's pickers (a school admin has only its own). */
export function useSchools() {
  const [schools] = usePolled(() => api("GET", "/v1/schools").then((b) => b.schools), 0);
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

async function loadFigures() {
  const [{ schools }, { polls }, { kiosks }] = await Promise.all([
    api("GET", "/v1/schools"),
    api("GET", "/v1/polls"),
    api("GET", "/v1/kiosks"),
  ]);
  const now = Date.now();
  return schools.map((s) => {
    const own = polls.filter((p) => p.schoolId === s.id && !p.archived);
    const open = own.filter(
      (p) =>
        (!p.opensAt || Date.parse(p.opensAt) <= now) &&
        (!p.closesAt || Date.parse(p.closesAt) > now),
    );
    const fleet = kiosks.filter((k) => k.schoolId === s.id && !k.revokedAt);
    const waiting = fleet.reduce((n, k) => n + (k.status?.pending ?? 0), 0);
    return { ...s, polls: own.length, open: open.length, kiosks: fleet.length, waiting };
  });
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
  const [schools, loadError, reload] = usePolled(loadFigures, LIVE_MS);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState(undefined);
  const [inviting, setInviting] = useState(undefined); // a school id, or "" for the deployment
  const [error, setError] = useState(undefined);
  const [page, setPage] = useState(0);
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
  const list = schools ?? [];
  const pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE));
  return html`
    <div class="toolbar">
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
        ${list.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).map(
          (s) => html`<tr data-school=${s.id}>
            <th scope="row">${s.name} <span class="muted">${s.id}</span></th>
            <td>${s.polls}</td><td>${s.open}</td><td>${s.kiosks}</td><td>${s.waiting}</td>
            <td class="actions">
              <button type="button" onClick=${() => setEditing(s)} aria-label=${`Edit ${s.name}`}>Edit</button>
              <button type="button" onClick=${() => setInviting(s.id)} aria-label=${`Invite admin of ${s.name}`}>Invite admin</button>
            </td>
          </tr>`,
        )}
      </tbody>
    </table>
    </div>
    <${Pager} page=${page} pages=${pages} onPage=${setPage} label="Schools" />`;
}
