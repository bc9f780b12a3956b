// The audit log: filtered, paged newest first (keyset: each "Load older entries" asks for the
// page before the last one shown), exported as CSV.
import { api } from "./api.js";
import { ErrorNote, html, useEffect, useState } from "./ui.js";

function queryOf(filters) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
  return q.toString();
}

export function AuditView({ session }) {
  const deployment = session.role === "deployment";
  const [filters, setFilters] = useState({});
  const [entries, setEntries] = useState([]);
  const [next, setNext] = useState(null);
  const [error, setError] = useState(undefined);
  const load = async (before) => {
    try {
      const q = queryOf({ ...filters, before });
      const page = await api("GET", `/v1/audit${q ? `?${q}` : ""}`);
      setEntries((old) => (before ? [...old, ...page.entries] : page.entries));
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
    const at = (name) => {
      const v = String(form.get(name) ?? "");
      return v ? new Date(v).toISOString() : "";
    };
    setFilters({
      schoolId: String(form.get("schoolId") ?? ""),
      actor: String(form.get("actor") ?? ""),
      action: String(form.get("action") ?? ""),
      from: at("from"),
      to: at("to"),
    });
  };
  const csv = `/v1/audit.csv${queryOf(filters) ? `?${queryOf(filters)}` : ""}`;
  return html`
    <form class="filters" onSubmit=${submit} aria-label="Filter the audit log">
      ${deployment ? html`<label>School id<input name="schoolId" /></label>` : null}
      <label>Admin id (or “deployment”)<input name="actor" /></label>
      <label>Action<input name="action" placeholder="PATCH /v1/polls/:id" /></label>
      <label>From<input name="from" type="datetime-local" /></label>
      <label>To<input name="to" type="datetime-local" /></label>
      <p class="actions"><button type="submit">Filter</button> <a href=${csv} download="audit.csv">Export CSV</a></p>
    </form>
    <${ErrorNote} error=${error} />
    <div class="scroll">
    <table class="audit">
      <caption class="visually-hidden">Admin actions, newest first</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Object</th><th scope="col">School</th><th scope="col">From</th><th scope="col">Changes</th></tr></thead>
      <tbody>
        ${entries.map(
          (e) => html`<tr data-action=${e.action}>
            <td>${new Date(e.at).toLocaleString()}</td>
            <td>${e.actorKind === "deployment" ? "deployment admin" : e.actorId}${e.sessionId ? html`<br /><span class="muted">console ${e.sessionId}</span>` : null}</td>
            <td><code>${e.action}</code></td>
            <td>${e.objectId ?? "–"}</td>
            <td>${e.schoolId ?? "–"}</td>
            <td>${e.address}</td>
            <td><code class="changes">${e.changes ? JSON.stringify(e.changes) : ""}</code></td>
          </tr>`,
        )}
      </tbody>
    </table>
    </div>
    <p role="status" aria-live="polite">${entries.length === 0 ? "No entries." : `${entries.length} ${entries.length === 1 ? "entry" : "entries"} shown, newest first${next ? "" : " (all)"}.`}</p>
    ${next ? html`<p><button type="button" onClick=${() => load(next)}>Load older entries</button></p>` : null}`;
}
