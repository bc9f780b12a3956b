// Kiosks: create, pair (the pairing QR code full-screen), revoke, and the fleet sorted by
// what needs attention first (the API's order, `sort=attention`: ingest-api/kiosks/
// kiosk-attention.ts), a page at a time, updated live.
import { api } from "./api.js";
import { InviteForm, SchoolPicker } from "./schools-view.js";
import {
  ago,
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

function stateOf(k, offlineMs) {
  if (k.revokedAt) return "revoked";
  if (!k.lastSeenAt) return "never seen";
  return Date.now() - Date.parse(k.lastSeenAt) > offlineMs ? "offline" : "online";
}

function Pairing({ kiosk, onClose }) {
  const [pairing] = usePolled(
    () => api("POST", `/v1/kiosks/${encodeURIComponent(kiosk.id)}/pairing`),
    0,
  );
  return html`<${Dialog} title=${`Pair ${kiosk.name}`} onClose=${onClose} wide>
    ${
      pairing
        ? html`<div class="pairing">
          <img class="qr" alt=${`QR code to pair ${kiosk.name}: it opens ${pairing.pairUrl}`}
            src=${`data:image/svg+xml;charset=utf-8,${encodeURIComponent(pairing.qrSvg)}`} data-pair-url=${pairing.pairUrl} />
          <p>Scan it with the kiosk, or open <strong>/pair</strong> on it and type <strong class="code">${pairing.code}</strong>.</p>
          <p class="muted">Single use, valid until ${new Date(pairing.expiresAt).toLocaleTimeString()}.</p>
        </div>`
        : html`<p>Making a pairing code…</p>`
    }
    <p class="actions"><button type="button" onClick=${onClose}>Done</button></p>
  </${Dialog}>`;
}

export function KiosksView({ session }) {
  const deployment = session.role === "deployment";
  const offlineMs = session.kioskOfflineMs ?? 300_000;
  const [schoolId, setSchoolId] = useState("");
  const [creating, setCreating] = useState(false);
  const [pairing, setPairing] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [q, setQ] = useState("");
  const [school, setSchool] = useState("default");
  const [fleet, loadError, reload, pager] = useKeysetPages(
    (after) =>
      api(
        "GET",
        `/v1/kiosks${queryString({ sort: "attention", schoolId, q, limit: PAGE_SIZE, after })}`,
      ),
    LIVE_MS,
    [schoolId, q],
  );
  const create = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      const made = await api("POST", "/v1/kiosks", {
        id: String(form.get("id")),
        name: String(form.get("name")),
        ...(deployment ? { schoolId: school } : {}),
      });
      setCreating(false);
      setPairing(made);
      reload();
    } catch (e) {
      setError(e);
    }
  };
  const revoke = async (k) => {
    try {
      await api("DELETE", `/v1/kiosks/${encodeURIComponent(k.id)}`);
      reload();
    } catch (e) {
      setError(e);
    }
  };
  const kiosks = fleet?.kiosks ?? [];
  return html`
    <div class="toolbar">
      ${deployment ? html`<${SchoolPicker} value=${schoolId} onChange=${setSchoolId} all />` : null}
      <${SearchBox} label="Search kiosks" value=${q} onSearch=${setQ} />
      <button type="button" onClick=${() => setCreating(true)}>New kiosk</button>
    </div>
    <${ErrorNote} error=${error ?? loadError} />
    ${fleet?.health === "unavailable" ? html`<p class="error" role="status">Kiosk health is unavailable (Redis): the list shows no status, in creation order.</p>` : null}
    ${
      creating
        ? html`<${Dialog} title="New kiosk" onClose=${() => setCreating(false)}>
          <form class="stack" onSubmit=${create}>
            <${ErrorNote} error=${error} />
            ${deployment ? html`<${SchoolPicker} value=${school} onChange=${setSchool} />` : null}
            <label>Short name (id)<input name="id" required pattern="[A-Za-z0-9_-]{1,64}" /></label>
            <label>Name<input name="name" required maxlength="200" /></label>
            <p class="actions"><button type="submit">Create and pair</button>
            <button type="button" onClick=${() => setCreating(false)}>Cancel</button></p>
          </form>
        </${Dialog}>`
        : null
    }
    ${
      pairing
        ? html`<${Pairing} kiosk=${pairing} onClose=${() => {
            setPairing(undefined);
            reload();
          }} />`
        : null
    }
    <div class="scroll">
    <table>
      <caption class="visually-hidden">Kiosks, those needing attention first</caption>
      <thead><tr>
        <th scope="col">Kiosk</th><th scope="col">State</th><th scope="col">Last seen</th>
        <th scope="col">Votes waiting</th><th scope="col">Oldest waiting</th><th scope="col">Refused</th>
        <th scope="col">App version</th><th scope="col">Storage kept</th><th scope="col"><span class="visually-hidden">Actions</span></th>
      </tr></thead>
      <tbody>
        ${kiosks.map((k) => {
          const state = stateOf(k, offlineMs);
          return html`<tr data-kiosk=${k.id}>
            <th scope="row">${k.name} <span class="muted">${k.id}</span></th>
            <td><span class=${`badge ${state.replace(" ", "-")}`}>${state}</span></td>
            <td>${ago(k.lastSeenAt)}</td>
            <td>${k.status?.pending ?? "–"}</td>
            <td>${k.status?.oldestPendingAt ? ago(k.status.oldestPendingAt) : "–"}</td>
            <td>${k.status?.refused ?? "–"}</td>
            <td>${k.status?.appVersion ?? "–"}</td>
            <td>${k.status?.persisted === true ? "yes" : k.status?.persisted === false ? "no" : "–"}</td>
            <td class="actions">${
              k.revokedAt
                ? null
                : html`<button type="button" onClick=${() => setPairing(k)} aria-label=${`Pair ${k.name}`}>Pair</button>
                  <button type="button" class="danger" onClick=${() => revoke(k)} aria-label=${`Revoke ${k.name}`}>Revoke</button>`
            }</td>
          </tr>`;
        })}
      </tbody>
    </table>
    </div>
    <${Pager} pager=${pager} label="Kiosks" />
    ${
      deployment
        ? null
        : html`<section aria-labelledby="invite-h"><h2 id="invite-h">Admins</h2>
          <${InviteOwn} /></section>`
    }`;
}

/** A school admin invites another admin of its own school. */
function InviteOwn() {
  const [open, setOpen] = useState(false);
  if (!open)
    return html`<button type="button" onClick=${() => setOpen(true)}>Invite an admin of this school</button>`;
  return html`<${Dialog} title="Invite an admin of this school" onClose=${() => setOpen(false)}>
    <${InviteForm} onCancel=${() => setOpen(false)} />
  </${Dialog}>`;
}
