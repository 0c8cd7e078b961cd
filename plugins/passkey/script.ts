/**
 * The passkey pages' script, served by the broker at /passkey/passkey.js (the page CSP allows
 * scripts from 'self' only: no CDN, no inline code). It turns the server's JSON options into the
 * ArrayBuffers navigator.credentials wants and the credential back into JSON (WebAuthn §5.1).
 */
export const PASSKEY_SCRIPT = String.raw`(() => {
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
  const say = (el, text) => { if (el) el.textContent = text; };
  const post = async (url, body, csrf) => {
    const res = await fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': csrf } : {}) }, body: JSON.stringify(body) });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(json.message || json.error || 'The broker refused the request (' + res.status + ').');
    return json;
  };

  const add = document.getElementById('passkey-register');
  if (add) add.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const status = document.getElementById('passkey-status');
    const csrf = add.dataset.csrf;
    try {
      say(status, 'Follow your browser\'s prompt…');
      const o = await post('/passkey/register/options', {}, csrf);
      const publicKey = { ...o, challenge: bytes(o.challenge), user: { ...o.user, id: bytes(o.user.id) }, excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })) };
      const cred = await navigator.credentials.create({ publicKey });
      const r = cred.response;
      const response = { id: cred.id, rawId: b64(cred.rawId), type: cred.type, authenticatorAttachment: cred.authenticatorAttachment || undefined, clientExtensionResults: cred.getClientExtensionResults(),
        response: { clientDataJSON: b64(r.clientDataJSON), attestationObject: b64(r.attestationObject), transports: r.getTransports ? r.getTransports() : [] } };
      await post('/passkey/register/verify', { response, name: add.elements.name.value }, csrf);
      location.assign('/passkey/manage?added=1');
    } catch (err) {
      say(status, 'No passkey added: ' + err.message);
    }
  });

  const login = document.getElementById('passkey-login');
  if (login) login.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const status = document.getElementById('passkey-status');
    try {
      say(status, 'Follow your browser\'s prompt…');
      const o = await post('/passkey/login/options', { lr: login.elements.lr.value });
      const publicKey = { ...o, challenge: bytes(o.challenge), allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })) };
      const cred = await navigator.credentials.get({ publicKey });
      const r = cred.response;
      login.elements.response.value = JSON.stringify({ id: cred.id, rawId: b64(cred.rawId), type: cred.type, clientExtensionResults: cred.getClientExtensionResults(),
        response: { clientDataJSON: b64(r.clientDataJSON), authenticatorData: b64(r.authenticatorData), signature: b64(r.signature), userHandle: r.userHandle ? b64(r.userHandle) : undefined } });
      login.submit();
    } catch (err) {
      say(status, 'Passkey login did not complete: ' + err.message);
    }
  });
})();
`;
