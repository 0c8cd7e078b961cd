import { html, type SafeHtml, type ConsoleBanBroadcast } from '../../../plugin/index.js';
import { badge, userHref, when } from './format.js';

/**
 * Per ban, per site: acknowledged, retrying, queued or given up, with a Retry button (a plain
 * form with the session CSRF token). `back` is where the retry returns (a console path).
 */
export function deliveryTable(broadcasts: ConsoleBanBroadcast[], csrf: string, back: string, names?: (userId: string) => string): SafeHtml {
  return html`<div class="table-wrap"><table><thead><tr><th scope="col">Notification</th><th scope="col">Site</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Details</th><th scope="col"><span class="muted">Action</span></th></tr></thead><tbody>
${broadcasts.flatMap((b) =>
  b.sites.map(
    (
      s,
      i,
    ) => html`<tr data-delivery="${b.banEventId}:${s.siteId}">${i === 0 ? html`<td rowspan="${String(b.sites.length)}">${b.kind}${names ? html` of <a href="${userHref(b.userId)}">${names(b.userId)}</a>` : ''}<div class="muted small">${when(b.queuedAt)}</div></td>` : ''}
<td>${s.siteId}</td><td data-testid="delivery-status">${badge(s.status)}</td><td>${String(s.attempts)}</td><td class="small">${s.detail}${s.at ? html` · ${when(s.at)}` : ''}</td>
<td><form method="post" action="/admin/deliveries/retry" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="banEventId" value="${b.banEventId}">
<input type="hidden" name="siteId" value="${s.siteId}"><input type="hidden" name="back" value="${back}"><button type="submit" class="secondary" aria-label="Send the ${b.kind} notification to ${s.siteId} again">Retry</button></form></td></tr>`,
  ),
)}
${broadcasts.length === 0 ? html`<tr><td colspan="6" class="muted">No ban has been sent to sites yet.</td></tr>` : ''}</tbody></table></div>`;
}
