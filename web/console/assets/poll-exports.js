// A poll's CSV exports (docs/console.md, "Exports"): links the browser saves as files. The
// session's cookie goes along; a download is a GET, which needs no CSRF token. Each one is
// recorded in the audit log by the API.
import { html } from "./ui.js";

export function PollExports({ poll }) {
  const base = `/v1/polls/${encodeURIComponent(poll.id)}`;
  return html`<a href=${`${base}/results.csv`} download aria-label=${`Download results CSV of ${poll.title}`}>Download results CSV</a>
    <a href=${`${base}/votes.csv`} download aria-label=${`Download votes CSV of ${poll.title}`}>Download votes CSV</a>`;
}
