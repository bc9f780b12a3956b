// The console's UI library: Preact and htm served from node_modules (no build step), and the
// small pieces every view shares.

import htm from "/vendor/htm/htm.js";
import { useEffect, useRef, useState } from "/vendor/preact/hooks.js";
import { h, render } from "/vendor/preact/preact.js";

export const html = htm.bind(h);
export { render, useEffect, useRef, useState };

/** Runs `load` now and every `everyMs` while the view is shown; returns [value, error, reload]. */
export function usePolled(load, everyMs, deps = []) {
  const [value, setValue] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const run = () =>
      load().then(
        (v) => {
          if (!live) return;
          setValue(v);
          setError(undefined);
        },
        (e) => {
          if (live) setError(e);
        },
      );
    run();
    const timer = everyMs > 0 ? setInterval(run, everyMs) : undefined;
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, [...deps, tick]);
  return [value, error, () => setTick((t) => t + 1)];
}

/** A modal dialog (the native <dialog>: focus kept inside, Escape closes). */
export function Dialog({ title, onClose, children, wide = false }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    const closed = () => onClose();
    dialog?.addEventListener("close", closed);
    return () => dialog?.removeEventListener("close", closed);
  }, []);
  return html`<dialog ref=${ref} class=${wide ? "wide" : ""} aria-labelledby="dialog-title">
    <h2 id="dialog-title">${title}</h2>
    ${children}
  </dialog>`;
}

export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.message ?? String(error)}</p>`;
}

/** Rows a page of the console's lists asks the API for (`?limit=`). */
export const PAGE_SIZE = 20;

/**
 * A keyset-paged list, live: `load(after)` reads one page (`{ ..., next }`) and runs again
 * every `everyMs` for the page shown. The cursors of the pages before are kept, so that
 * Previous goes back the way Next came; a change of `deps` (a filter) starts from the first
 * page. Returns [page, error, reload, pager props].
 */
export function useKeysetPages(load, everyMs, deps = []) {
  const [cursors, setCursors] = useState([undefined]);
  useEffect(() => setCursors([undefined]), deps);
  const after = cursors[cursors.length - 1];
  const [page, error, reload] = usePolled(() => load(after), everyMs, [...deps, after]);
  const pager = {
    number: cursors.length,
    hasPrevious: cursors.length > 1,
    hasNext: Boolean(page?.next),
    onPrevious: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
    onNext: () => page?.next && setCursors((c) => [...c, page.next]),
  };
  return [page, error, reload, pager];
}

/** A search box for a list's `?q=` (a prefix of the id or name), applied as one types. */
export function SearchBox({ label, value, onSearch }) {
  return html`<label class="inline">${label}
    <input type="search" value=${value} onInput=${(e) => onSearch(e.target.value)} />
  </label>`;
}

/** A list's query string from its parameters, the empty ones left out. */
export function queryString(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : "";
}

/** Previous and Next of a keyset-paged list; the page number announced politely. */
export function Pager({ pager, label }) {
  if (!pager.hasPrevious && !pager.hasNext) return null;
  return html`<nav class="pager" aria-label=${`${label} pages`}>
    <button type="button" disabled=${!pager.hasPrevious} onClick=${pager.onPrevious}>Previous</button>
    <span aria-live="polite">Page ${pager.number}</span>
    <button type="button" disabled=${!pager.hasNext} onClick=${pager.onNext}>Next</button>
  </nav>`;
}

export function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
