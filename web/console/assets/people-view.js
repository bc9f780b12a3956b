// People: a school's roster page by page (the API's keyset pages), searched, edited and
// erased; a roster CSV imported only after a preview of what it would do and of each bad row
// (`?dryRun=true`: the import's own answer, nothing written). Names are shown to the school's
// own admin only (the API answers null to the deployment admin).
import { api, upload } from "./api.js";
import { SchoolPicker } from "./schools-view.js";
import { Dialog, ErrorNote, html, PAGE_SIZE, useEffect, useRef, useState } from "./ui.js";

const peoplePath = (schoolId) => `/v1/schools/${encodeURIComponent(schoolId)}/people`;
const personPath = (schoolId, id) => `${peoplePath(schoolId)}/${encodeURIComponent(id)}`;
/** How a person is named on buttons and in dialogs: the name when shown, else the id. */
const labelOf = (p) => (p.name ? `${p.name} (${p.id})` : p.id);
/** Group ids hold no space nor comma (the id pattern): either separates them when typed. */
const groupsOf = (text) => text.split(/[\s,;]+/).filter((g) => g !== "");

export function PeopleView({ session }) {
  const deployment = session.role === "deployment";
  const [schoolId, setSchoolId] = useState(deployment ? "default" : session.schoolId);
  const [filter, setFilter] = useState({ q: "", group: "" });
  // The `after` of each page shown so far: Previous goes back without a count of pages.
  const [cursors, setCursors] = useState([undefined]);
  const [tick, setTick] = useState(0);
  const [page, setPage] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [note, setNote] = useState("");
  const [editing, setEditing] = useState(undefined);
  const [erasing, setErasing] = useState(undefined);
  const [importing, setImporting] = useState(false);
  const opener = useRef(null);
  const noteRef = useRef(null);
  /** Opens a dialog, remembering the control that opened it. */
  const openWith = (set, value) => {
    opener.current = document.activeElement;
    set(value);
  };
  /** Closes it, focus back on that control; an erased person's row is gone: on the note saying so. */
  const closeWith = (set) => {
    set(undefined);
    setTimeout(() => (opener.current?.isConnected ? opener.current : noteRef.current)?.focus(), 0);
  };
  const after = cursors[cursors.length - 1];

  useEffect(() => {
    let live = true;
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (after) query.set("after", after);
    if (filter.q) query.set("q", filter.q);
    if (filter.group) query.set("group", filter.group);
    api("GET", `${peoplePath(schoolId)}?${query}`).then(
      (p) => {
        if (!live) return;
        setPage(p);
        setError(undefined);
      },
      (e) => {
        if (live) setError(e);
      },
    );
    return () => {
      live = false;
    };
  }, [schoolId, filter, after, tick]);

  const restart = () => setCursors([undefined]);
  const reload = () => setTick((t) => t + 1);
  const search = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    setFilter({
      q: String(form.get("q") ?? "").trim(),
      group: String(form.get("group") ?? "").trim(),
    });
    restart();
  };
  const done = (message) => {
    setNote(message);
    reload();
  };
  const people = page?.items ?? [];
  const first = (cursors.length - 1) * PAGE_SIZE + 1;

  return html`
    <div class="toolbar people-tools">
      ${
        deployment
          ? html`<${SchoolPicker} value=${schoolId} onChange=${(v) => {
              setSchoolId(v);
              setPage(undefined);
              setNote("");
              restart();
            }} />`
          : null
      }
      <button type="button" onClick=${() => openWith(setImporting, true)}>Import CSV</button>
      <a class="button" href=${`${peoplePath(schoolId)}/export`} download=${`people-${schoolId}.csv`}>Export CSV</a>
    </div>
    <form class="filters" role="search" aria-label="Search people" onSubmit=${search}>
      <label>${deployment ? "Id starts with" : "Name or id"}<input type="search" name="q" maxlength="128" /></label>
      <label>Group<input name="group" maxlength="64" pattern="[A-Za-z0-9_-]{1,64}" /></label>
      <p class="actions"><button type="submit">Search</button></p>
    </form>
    ${deployment ? html`<p class="muted">Names are shown to the school's own admins only.</p>` : null}
    <p role="status" class="note" tabindex="-1" ref=${noteRef}>${note}</p>
    <${ErrorNote} error=${error} />
    <div class="scroll">
    <table class="people">
      <caption class="visually-hidden">People of ${schoolId}, by id</caption>
      <thead><tr>
        <th scope="col">Id</th>${deployment ? null : html`<th scope="col">Name</th>`}<th scope="col">Groups</th>
        <th scope="col">Status</th><th scope="col"><span class="visually-hidden">Actions</span></th>
      </tr></thead>
      <tbody>
        ${people.map(
          (p) => html`<tr key=${p.id} data-person=${p.id}>
            <th scope="row">${p.id}</th>
            ${deployment ? null : html`<td>${p.name ?? html`<span class="muted">no name</span>`}</td>`}
            <td>${p.groups.map((g) => html`<span class="chip">${g}</span>`)}</td>
            <td><span class=${`badge ${p.active ? "online" : "offline"}`}>${p.active ? "active" : "inactive"}</span></td>
            <td><div class="row-actions">
              <button type="button" onClick=${() => openWith(setEditing, p)} aria-label=${`Edit ${labelOf(p)}`}>Edit</button>
              <button type="button" class="danger" onClick=${() => openWith(setErasing, p)} aria-label=${`Erase ${labelOf(p)}`}>Erase</button>
            </div></td>
          </tr>`,
        )}
      </tbody>
    </table>
    </div>
    ${page && people.length === 0 ? html`<p>${filter.q || filter.group ? "Nobody matches." : "No people yet: import a roster."}</p>` : null}
    ${
      cursors.length > 1 || page?.next
        ? html`<nav class="pager" aria-label="People pages">
          <button type="button" disabled=${cursors.length === 1} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
          <span>People ${first}–${first + people.length - 1}</span>
          <button type="button" disabled=${!page?.next} onClick=${() => setCursors([...cursors, page.next])}>Next</button>
        </nav>`
        : null
    }
    ${
      editing
        ? html`<${EditPerson} schoolId=${schoolId} person=${editing} names=${!deployment}
            onClose=${() => closeWith(setEditing)}
            onSaved=${(p) => {
              closeWith(setEditing);
              done(`Saved ${labelOf(p)}.`);
            }} />`
        : null
    }
    ${
      erasing
        ? html`<${ErasePerson} schoolId=${schoolId} person=${erasing}
            onClose=${() => closeWith(setErasing)}
            onErased=${(erasure) => {
              closeWith(setErasing);
              // Gone from the page at once, not only after the list is read again.
              setPage(
                (old) => old && { ...old, items: old.items.filter((x) => x.id !== erasure.id) },
              );
              done(
                erasure.eventsRewritten === 0
                  ? `Erased ${erasure.id} (no stored vote or check-in was theirs).`
                  : `Erased ${erasure.id}: their ${erasure.eventsRewritten} votes and check-ins are kept, under a pseudonym.`,
              );
            }} />`
        : null
    }
    ${
      importing
        ? html`<${ImportRoster} schoolId=${schoolId}
            onClose=${() => closeWith(setImporting)}
            onApplied=${(r) => {
              setNote(`Imported: ${summary(r)}.`);
              restart();
              reload();
            }} />`
        : null
    }`;
}

function EditPerson({ schoolId, person, names, onClose, onSaved }) {
  const [error, setError] = useState(undefined);
  const save = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const name = String(form.get("name") ?? "").trim();
    const patch = {
      groups: groupsOf(String(form.get("groups") ?? "")),
      active: form.get("active") === "on",
    };
    // The school's admin sees the name: empty removes it. The deployment admin does not:
    // empty keeps the name it cannot see.
    if (names) patch.name = name === "" ? null : name;
    else if (name !== "") patch.name = name;
    try {
      onSaved(await api("PATCH", personPath(schoolId, person.id), patch));
    } catch (e) {
      setError(e);
    }
  };
  return html`<${Dialog} title=${`Edit ${labelOf(person)}`} onClose=${onClose}>
    <form class="stack" onSubmit=${save}>
      <${ErrorNote} error=${error} />
      <p class="meta">Id <strong>${person.id}</strong> (the badge or number kiosks send: it does not change).</p>
      ${
        names
          ? html`<label>Name<input name="name" value=${person.name ?? ""} maxlength="200" aria-describedby="name-hint" /></label>
            <p id="name-hint" class="muted">Empty: no name.</p>`
          : html`<label>New name<input name="name" maxlength="200" aria-describedby="name-hint" /></label>
            <p id="name-hint" class="muted">Names are hidden from you; empty keeps the current one.</p>`
      }
      <label>Groups<input name="groups" value=${person.groups.join(" ")} aria-describedby="groups-hint" /></label>
      <p id="groups-hint" class="muted">Group ids (a class, a club), separated by spaces.</p>
      <label class="check"><input type="checkbox" name="active" checked=${person.active} aria-describedby="active-hint" /> Active</label>
      <p id="active-hint" class="muted">An inactive person stays on the roster but no longer votes in roster-only polls.</p>
      <p class="actions"><button type="submit">Save</button>
      <button type="button" onClick=${onClose}>Cancel</button></p>
    </form>
  </${Dialog}>`;
}

function ErasePerson({ schoolId, person, onClose, onErased }) {
  const [error, setError] = useState(undefined);
  const [busy, setBusy] = useState(false);
  const erase = async () => {
    setBusy(true);
    try {
      onErased(await api("DELETE", personPath(schoolId, person.id)));
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return html`<${Dialog} title=${`Erase ${labelOf(person)}?`} onClose=${onClose}>
    <${ErrorNote} error=${error} />
    <p>This cannot be undone. What is lost:</p>
    <ul class="lost">
      <li>the person: their id on this roster, their name and their groups; they are no longer one of the school's people (roster-only polls refuse their badge)</li>
      <li>which votes and check-ins were theirs: every one stored under this id is moved to a random pseudonym, so totals and attendance figures do not change but nothing links them to this person any more</li>
    </ul>
    <p class="muted">Votes still on their way from a kiosk are stored under the id afterwards: erase again later to move them too.</p>
    <p class="actions">
      <button type="button" class="danger" disabled=${busy} onClick=${erase}>Erase ${person.id}</button>
      <button type="button" onClick=${onClose}>Cancel</button>
    </p>
  </${Dialog}>`;
}

/** "3 added, 1 changed, 5 unchanged, 2 deactivated, 2 rows left out". */
function summary(r) {
  const good = r.created + r.updated + r.unchanged;
  const parts = [`${r.created} added`, `${r.updated} changed`, `${r.unchanged} unchanged`];
  if (r.deactivated !== undefined) parts.push(`${r.deactivated} deactivated`);
  if (r.rows > good)
    parts.push(`${r.rows - good} ${r.rows - good === 1 ? "row" : "rows"} left out`);
  return parts.join(", ");
}

function ImportRoster({ schoolId, onClose, onApplied }) {
  const [mode, setMode] = useState("upsert");
  // The bytes previewed are the bytes applied, whatever happens to the file on disk meanwhile.
  const [file, setFile] = useState(undefined);
  const [preview, setPreview] = useState(undefined);
  const [applied, setApplied] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [busy, setBusy] = useState(false);

  const send = (bytes, m, dryRun) =>
    upload(
      "POST",
      `${peoplePath(schoolId)}/import?mode=${m}${dryRun ? "&dryRun=true" : ""}`,
      "text/csv; charset=utf-8",
      bytes,
    );
  const check = async (picked, m) => {
    setPreview(undefined);
    setError(undefined);
    if (!picked) return;
    setBusy(true);
    try {
      setPreview(await send(picked.bytes, m, true));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const pick = async (event) => {
    const chosen = event.target.files?.[0];
    const picked = chosen ? { name: chosen.name, bytes: await chosen.arrayBuffer() } : undefined;
    setFile(picked);
    check(picked, mode);
  };
  const changeMode = (m) => {
    setMode(m);
    check(file, m);
  };
  const apply = async () => {
    setBusy(true);
    try {
      const result = await send(file.bytes, mode, false);
      setApplied(result);
      onApplied(result);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  if (applied)
    return html`<${Dialog} title="Roster imported" onClose=${onClose}>
      <p role="status">${file.name}: ${summary(applied)}.</p>
      <p class="actions"><button type="button" onClick=${onClose}>Done</button></p>
    </${Dialog}>`;

  const good = preview ? preview.created + preview.updated + preview.unchanged : 0;
  return html`<${Dialog} title="Import a roster" onClose=${onClose} wide>
    <div class="stack importing">
      <p class="muted">A CSV file (UTF-8) with the header <code>id,name,groups</code>, groups separated by <code>;</code>. An empty name keeps the name a person has. Nothing changes until you apply it.</p>
      <fieldset>
        <legend>People the file leaves out</legend>
        <label class="check"><input type="radio" name="mode" value="upsert" checked=${mode === "upsert"} onChange=${() => changeMode("upsert")} /> Keep them as they are</label>
        <label class="check"><input type="radio" name="mode" value="replace" checked=${mode === "replace"} onChange=${() => changeMode("replace")} /> Deactivate them (the file is the whole roster)</label>
      </fieldset>
      <label>Roster file<input type="file" accept=".csv,text/csv" onChange=${pick} /></label>
      <div aria-live="polite">
        ${busy ? html`<p>Checking…</p>` : null}
        <${ErrorNote} error=${error} />
        ${
          preview
            ? html`<section class="preview" aria-labelledby="preview-h">
              <h3 id="preview-h">What applying ${file.name} would do</h3>
              <ul class="import-counts">
                <li><strong>${preview.created}</strong> added</li>
                <li><strong>${preview.updated}</strong> changed</li>
                <li><strong>${preview.unchanged}</strong> unchanged</li>
                ${preview.deactivated === undefined ? null : html`<li><strong>${preview.deactivated}</strong> deactivated (left out of the file)</li>`}
                <li><strong>${preview.rows - good}</strong> ${preview.rows - good === 1 ? "row" : "rows"} with errors, left out</li>
              </ul>
              ${preview.errorCount > 0 ? html`<${RowErrors} preview=${preview} />` : null}
            </section>`
            : null
        }
      </div>
      <p class="actions">
        <button type="button" class="primary" disabled=${!preview || busy} onClick=${apply}>${preview ? `Apply: import ${good} ${good === 1 ? "row" : "rows"}` : "Apply"}</button>
        <button type="button" onClick=${onClose}>Cancel</button>
      </p>
    </div>
  </${Dialog}>`;
}

function RowErrors({ preview }) {
  const more = preview.errorCount - preview.errors.length;
  return html`<div class="scroll">
    <table class="row-errors">
      <caption>Errors (${preview.errorCount}): fix these rows and import the file again</caption>
      <thead><tr><th scope="col">Line</th><th scope="col">Column</th><th scope="col">Problem</th></tr></thead>
      <tbody>
        ${preview.errors.map(
          (e) =>
            html`<tr data-line=${e.line}><td>${e.line}</td><td>${e.field}</td><td>${e.message}</td></tr>`,
        )}
      </tbody>
    </table>
    ${more > 0 ? html`<p>…and ${more} more not listed.</p>` : null}
  </div>`;
}
