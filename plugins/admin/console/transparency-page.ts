import { html } from '../../../plugin/index.js';
import type { ConsoleDeps } from './deps.js';
import { badge, when } from './format.js';

/**
 * `GET /admin/transparency`: the log's Merkle tree, its latest signed checkpoint (the note as
 * published) and what each witness answered when the recent checkpoints were pushed to it.
 */
export function registerTransparencyPage(d: ConsoleDeps): void {
  const { ctx } = d;
  ctx.web.app.get('/admin/transparency', async (req, reply) => {
    const p = await d.guard.check(req, reply);
    if (!p) return reply;
    const tree = ctx.store.tree;
    if (!tree) {
      const body = html`<h1>Transparency log</h1><p class="muted">The ${ctx.store.kind} event store keeps no Merkle tree: checkpoints and proofs need the SQLite or PostgreSQL store.</p>`;
      return d.page(req, reply, p, { title: 'Transparency log', section: 'transparency' }, body);
    }
    const [size, checkpoints] = await Promise.all([tree.size(), tree.checkpoints(5)]);
    const acks = await Promise.all(checkpoints.map((c) => tree.witnessAcks(c.size)));
    const latest = checkpoints[0];
    const body = html`<h1>Transparency log</h1>
<p>The Merkle tree holds <strong data-testid="tree-size">${size}</strong> events. Checkpoints are published at
<a href="/.well-known/broker-log/checkpoint">/.well-known/broker-log/checkpoint</a>, their verifier key at
<a href="/.well-known/broker-log/key">/.well-known/broker-log/key</a>.</p>
<h2>Latest checkpoint</h2>
${
  latest
    ? html`<p>Size <strong data-testid="checkpoint-size">${latest.size}</strong>, issued ${when(latest.issuedAt)}${latest.size < size ? html` · ${size - latest.size} events since` : ''}.</p>
<pre class="mono small" data-testid="checkpoint-note">${latest.note}</pre>`
    : html`<p class="muted">No checkpoint yet (one is issued after the configured number of events or seconds, or with <code>broker audit checkpoint</code>).</p>`
}
<h2>Witnesses</h2>
<div class="table-wrap"><table><thead><tr><th scope="col">Checkpoint</th><th scope="col">Witness</th><th scope="col">Answer</th><th scope="col">When</th><th scope="col">Cosignature or error</th></tr></thead><tbody>
${checkpoints.flatMap((c, i) =>
  acks[i].map(
    (a) =>
      html`<tr data-witness="${a.witness}" data-size="${a.size}"><td>${c.size}</td><td>${a.witness}</td><td>${a.ok ? badge('active', 'cosigned') : badge('banned', 'refused')}</td><td>${when(a.at)}</td><td class="mono small">${a.detail}</td></tr>`,
  ),
)}
${acks.every((a) => a.length === 0) ? html`<tr><td colspan="5" class="muted">No witness acknowledgement recorded (configure <code>transparency.witnesses</code>).</td></tr>` : ''}</tbody></table></div>`;
    return d.page(req, reply, p, { title: 'Transparency log', section: 'transparency' }, body);
  });
}
