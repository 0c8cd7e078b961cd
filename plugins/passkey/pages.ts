import { html, type SafeHtml } from '../../plugin/index.js';
import type { PasskeyView } from './passkeys-view.js';

export function loginPage(o: { lr: string; error?: string }): SafeHtml {
  return html`<h1>Log in with a passkey</h1>
<p>Use the passkey saved on this device, your phone or a security key. No email or password needed.</p>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<form id="passkey-login" method="post" action="/passkey/login/verify">
  <input type="hidden" name="lr" value="${o.lr}"><input type="hidden" name="response" value="">
  <button type="submit" id="passkey-login-button">Log in with a passkey</button>
</form>
<p id="passkey-status" role="status" aria-live="polite"></p>
<script src="/passkey/passkey.js" defer></script>`;
}

/**
 * The passkey step of a login the core held back (login-step.ts): prove a passkey (`assert`, with
 * a recovery code as the way out when the account has them), or add one (`enrol`).
 */
export function stepPage(o: { ticket: string; mode: 'assert' | 'enrol'; recovery: boolean; error?: string; notice?: string }): SafeHtml {
  const error = o.error ? html`<p class="error" role="alert">${o.error}</p>` : '';
  const status = html`<p id="passkey-status" role="status" aria-live="polite"></p><script src="/passkey/passkey.js" defer></script>`;
  if (o.mode === 'enrol') {
    return html`<h1>Add a passkey to continue</h1>
<p>This account must log in with a passkey. Add one now (on this device, your phone or a security key); you then use it to finish logging in.</p>
${error}
<form id="passkey-enrol" class="stack" method="post" action="/passkey/step/enrol">
  <input type="hidden" name="t" value="${o.ticket}"><input type="hidden" name="response" value="">
  <label for="passkey-name">Name it (where it lives)</label><input id="passkey-name" name="name" maxlength="64" value="My passkey" required>
  <button type="submit" id="passkey-enrol-button">Add a passkey</button>
</form>
${status}`;
  }
  return html`<h1>Confirm with your passkey</h1>
${o.notice ? html`<p class="ok" role="status">${o.notice}</p>` : ''}
<p>Use your passkey to finish logging in.</p>
${error}
<form id="passkey-step" method="post" action="/passkey/step/verify">
  <input type="hidden" name="t" value="${o.ticket}"><input type="hidden" name="response" value="">
  <button type="submit" id="passkey-step-button">Use my passkey</button>
</form>
${status}
${
  o.recovery
    ? html`<details><summary>Lost your passkey? Use a recovery code</summary>
<form class="stack" method="post" action="/passkey/step/recovery">
  <input type="hidden" name="t" value="${o.ticket}">
  <label for="recovery-code">Recovery code</label><input id="recovery-code" name="code" autocomplete="one-time-code" required>
  <button type="submit">Continue</button>
</form></details>`
    : ''
}`;
}

export function managePage(o: { keys: PasskeyView[]; csrf: string; message?: string }): SafeHtml {
  return html`<h1>Your passkeys</h1>
${o.message ? html`<p class="flash" role="status">${o.message}</p>` : ''}
${
  o.keys.length
    ? html`<table><thead><tr><th scope="col">Name</th><th scope="col">Added</th><th scope="col">Last used</th><th scope="col">Synced</th><th scope="col">Actions</th></tr></thead><tbody>
${o.keys.map(
  (
    k,
  ) => html`<tr data-credential="${k.credentialId}"><td>${k.name}</td><td>${k.createdAt.slice(0, 10)}</td><td>${k.lastUsedAt ? k.lastUsedAt.slice(0, 16).replace('T', ' ') : 'never'}</td>
<td>${k.backedUp ? 'yes' : 'no'}</td><td>
<form method="post" action="/passkey/rename"><input type="hidden" name="_csrf" value="${o.csrf}"><input type="hidden" name="credentialId" value="${k.credentialId}">
<label>New name <input name="name" maxlength="64" required></label> <button type="submit">Rename</button></form>
<form method="post" action="/passkey/remove"><input type="hidden" name="_csrf" value="${o.csrf}"><input type="hidden" name="credentialId" value="${k.credentialId}">
<button type="submit" class="danger">Remove</button></form></td></tr>`,
)}</tbody></table>`
    : html`<p>No passkey yet.</p>`
}
<h2>Add a passkey</h2>
<form id="passkey-register" data-csrf="${o.csrf}">
  <label for="passkey-name">Name it (where it lives)</label> <input id="passkey-name" name="name" maxlength="64" value="My passkey" required>
  <button type="submit" id="passkey-add">Add a passkey</button>
</form>
<p id="passkey-status" role="status" aria-live="polite"></p>
<script src="/passkey/passkey.js" defer></script>`;
}
