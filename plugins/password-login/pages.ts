import { html, type SafeHtml } from '../../plugin/index.js';

export function loginForm(o: { lr: string; csrf: string; email?: string; error?: string; registration: boolean }): SafeHtml {
  return html`<h1>Log in</h1>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<form class="stack" method="post" action="/password/login">
<input type="hidden" name="_csrf" value="${o.csrf}"><input type="hidden" name="lr" value="${o.lr}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required value="${o.email ?? ''}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button></form>
<p class="muted"><a href="/password/forgot">Forgot your password?</a></p>
${o.registration ? html`<p class="muted">No account? <a href="/password/register?lr=${encodeURIComponent(o.lr)}">Create one</a>.</p>` : ''}`;
}

export function totpForm(o: { ticket: string; csrf: string; error?: string }): SafeHtml {
  return html`<h1>Second factor</h1>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<form class="stack" method="post" action="/password/totp">
<input type="hidden" name="_csrf" value="${o.csrf}"><input type="hidden" name="ticket" value="${o.ticket}">
<label for="code">Code from your authenticator app (or a recovery code)</label>
<input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required autofocus>
<button type="submit">Continue</button></form>`;
}

export function registerForm(o: { lr: string; csrf: string; email?: string; name?: string; error?: string }): SafeHtml {
  return html`<h1>Create an account</h1>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<form class="stack" method="post" action="/password/register">
<input type="hidden" name="_csrf" value="${o.csrf}"><input type="hidden" name="lr" value="${o.lr}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required value="${o.email ?? ''}">
<label for="name">Name</label><input id="name" name="name" type="text" autocomplete="name" value="${o.name ?? ''}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="new-password" required>
<button type="submit">Create account</button></form>`;
}

export function enrollForm(o: { sealed: string; csrf: string; qr: string; secret: string; uri: string; error?: string }): SafeHtml {
  return html`<h1>Set up two-factor login</h1>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<p>Scan this code with an authenticator app, then type the code it shows.</p>
<p><img src="${o.qr}" alt="QR code of the authenticator secret" width="240" height="240"></p>
<p class="muted">Or enter this secret by hand: <code data-testid="totp-secret">${o.secret}</code></p>
<form class="stack" method="post" action="/password/totp/enroll">
<input type="hidden" name="_csrf" value="${o.csrf}"><input type="hidden" name="sealed" value="${o.sealed}">
<label for="code">Code</label><input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required>
<button type="submit">Turn on two-factor login</button></form>`;
}

export function recoveryCodesPage(codes: string[], next: string): SafeHtml {
  return html`<h1>Two-factor login is on</h1>
<p class="ok">Keep these recovery codes somewhere safe. Each works once, in place of a code, if you lose your phone. They are not shown again.</p>
<ul class="recovery-codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
<p><a class="button" href="${next}">Continue</a></p>`;
}

export function forgotForm(o: { csrf: string; sent?: boolean; error?: string }): SafeHtml {
  return html`<h1>Forgot your password?</h1>
${o.sent ? html`<p class="flash" role="status" data-testid="reset-sent">If an account uses this address, a link to set a new password is on its way. It works once, for 30 minutes.</p>` : ''}
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<form class="stack" method="post" action="/password/forgot">
<input type="hidden" name="_csrf" value="${o.csrf}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required>
<button type="submit">Send me a link</button></form>
<p class="muted"><a href="/password/login">Back to log in</a></p>`;
}

export function setPasswordForm(o: {
  token: string;
  csrf: string;
  purpose: 'invite' | 'reset';
  email: string | null;
  error?: string;
}): SafeHtml {
  return html`<h1>${o.purpose === 'invite' ? 'Welcome: choose your password' : 'Choose a new password'}</h1>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<form class="stack" method="post" action="/password/set">
<input type="hidden" name="_csrf" value="${o.csrf}"><input type="hidden" name="token" value="${o.token}">
<input type="email" name="email" autocomplete="username" value="${o.email ?? ''}" hidden>
<label for="password">New password</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="8">
<button type="submit">Set password</button></form>`;
}

export function linkInvalidPage(): SafeHtml {
  return html`<h1>This link no longer works</h1>
<p>It expired or was already used. <a href="/password/forgot">Ask for a new one</a>, or <a href="/password/login">log in</a>.</p>`;
}

export function passwordSetPage(): SafeHtml {
  return html`<h1>Password set</h1>
<p data-testid="password-set">Your password is set. <a href="/password/login">Log in</a> with your email and the new password.</p>`;
}
