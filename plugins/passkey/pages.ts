import { html, type SafeHtml } from '../../adapters/http/html.js';
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

export function managePage(o: { keys: PasskeyView[]; csrf: string; message?: string; required?: boolean }): SafeHtml {
  return html`<h1>Your passkeys</h1>
${o.required ? html`<p class="error" role="alert">This account must log in with a passkey. Add one now: your next login uses it.</p>` : ''}
${o.message ? html`<p class="flash" role="status">${o.message}</p>` : ''}
${o.keys.length
  ? html`<table><thead><tr><th scope="col">Name</th><th scope="col">Added</th><th scope="col">Last used</th><th scope="col">Synced</th><th scope="col">Actions</th></tr></thead><tbody>
${o.keys.map(
  (k) => html`<tr data-credential="${k.credentialId}"><td>${k.name}</td><td>${k.createdAt.slice(0, 10)}</td><td>${k.lastUsedAt ? k.lastUsedAt.slice(0, 16).replace('T', ' ') : 'never'}</td>
<td>${k.backedUp ? 'yes' : 'no'}</td><td>
<form method="post" action="/passkey/rename"><input type="hidden" name="_csrf" value="${o.csrf}"><input type="hidden" name="credentialId" value="${k.credentialId}">
<label>New name <input name="name" maxlength="64" required></label> <button type="submit">Rename</button></form>
<form method="post" action="/passkey/remove"><input type="hidden" name="_csrf" value="${o.csrf}"><input type="hidden" name="credentialId" value="${k.credentialId}">
<button type="submit" class="danger">Remove</button></form></td></tr>`,
)}</tbody></table>`
  : html`<p>No passkey yet.</p>`}
<h2>Add a passkey</h2>
<form id="passkey-register" data-csrf="${o.csrf}">
  <label for="passkey-name">Name it (where it lives)</label> <input id="passkey-name" name="name" maxlength="64" value="My passkey" required>
  <button type="submit" id="passkey-add">Add a passkey</button>
</form>
<p id="passkey-status" role="status" aria-live="polite"></p>
<script src="/passkey/passkey.js" defer></script>`;
}
