/**
 * The passkey pages' script, served by the broker at /passkey/passkey.js (the page CSP allows
 * scripts from 'self' only: no CDN, no inline code). It turns the server's JSON options into the
 * ArrayBuffers navigator.credentials wants and the credential back into JSON (WebAuthn §5.1).
 * The ceremonies that log in end in a normal form POST (the answer in a hidden field), so the
 * browser follows the broker's redirect with the session cookie as for any other login form.
 */
export const PASSKEY_SCRIPT = String.raw`(() => {
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
  const status = () => document.getElementById('passkey-status');
  const say = (text) => { const el = status(); if (el) el.textContent = text; };
  const post = async (url, body, csrf) => {
    const res = await fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': csrf } : {}) }, body: JSON.stringify(body) });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(json.message || json.error || 'The broker refused the request (' + res.status + ').');
    return json;
  };
  const create = async (o) => {
    const publicKey = { ...o, challenge: bytes(o.challenge), user: { ...o.user, id: bytes(o.user.id) }, excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })) };
    const cred = await navigator.credentials.create({ publicKey });
    const r = cred.response;
    return { id: cred.id, rawId: b64(cred.rawId), type: cred.type, authenticatorAttachment: cred.authenticatorAttachment || undefined, clientExtensionResults: cred.getClientExtensionResults(),
      response: { clientDataJSON: b64(r.clientDataJSON), attestationObject: b64(r.attestationObject), transports: r.getTransports ? r.getTransports() : [] } };
  };
  const get = async (o) => {
    const publicKey = { ...o, challenge: bytes(o.challenge), allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })) };
    const cred = await navigator.credentials.get({ publicKey });
    const r = cred.response;
    return { id: cred.id, rawId: b64(cred.rawId), type: cred.type, clientExtensionResults: cred.getClientExtensionResults(),
      response: { clientDataJSON: b64(r.clientDataJSON), authenticatorData: b64(r.authenticatorData), signature: b64(r.signature), userHandle: r.userHandle ? b64(r.userHandle) : undefined } };
  };
  /** On submit: ask the broker for options, run the ceremony, put the answer in the form and send it. */
  const ceremony = (id, optionsUrl, body, run, failed) => {
    const form = document.getElementById(id);
    if (!form) return;
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        say('Follow your browser\'s prompt…');
        const o = await post(optionsUrl, body(form));
        form.elements.response.value = JSON.stringify(await run(o));
        form.submit();
      } catch (err) {
        say(failed + err.message);
      }
    });
  };

  ceremony('passkey-login', '/passkey/login/options', (f) => ({ lr: f.elements.lr.value }), get, 'Passkey login did not complete: ');
  ceremony('passkey-step', '/passkey/step/options', (f) => ({ t: f.elements.t.value }), get, 'Passkey check did not complete: ');
  ceremony('passkey-enrol', '/passkey/step/options', (f) => ({ t: f.elements.t.value }), create, 'No passkey added: ');

  // The account page: add a passkey (JSON both ways, under the session's CSRF token), then reload.
  const add = document.getElementById('passkey-register');
  if (add) add.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const csrf = add.dataset.csrf;
    try {
      say('Follow your browser\'s prompt…');
      const response = await create(await post('/passkey/register/options', {}, csrf));
      await post('/passkey/register/verify', { response, name: add.elements.name.value }, csrf);
      location.assign('/passkey/manage?added=1');
    } catch (err) {
      say('No passkey added: ' + err.message);
    }
  });
})();
`;
