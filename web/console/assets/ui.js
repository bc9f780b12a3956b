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

/** 20 rows a page of a list the API answered whole. */
export function Pager({ page, pages, onPage, label }) {
  if (pages <= 1) return null;
  return html`<nav class="pager" aria-label=${`${label} pages`}>
    <button type="button" disabled=${page === 0} onClick=${() => onPage(page - 1)}>Previous</button>
    <span>Page ${page + 1} of ${pages}</span>
    <button type="button" disabled=${page >= pages - 1} onClick=${() => onPage(page + 1)}>Next</button>
  </nav>`;
}

export const PAGE_SIZE = 20;

export function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
