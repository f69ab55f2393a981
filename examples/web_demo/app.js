// The web demo's one script: every page's behaviour, chosen by <body data-page>.
// No framework, no build step. Data from the server is put in the page with
// textContent only, never as HTML.
'use strict';

const $ = (sel) => document.querySelector(sel);
let ME = null;

async function loadMe() {
  const res = await fetch('/api/me', { headers: { Accept: 'application/json' } });
  ME = await res.json();
  const who = $('#who');
  if (who && ME.user) who.textContent = 'Signed in as ' + ME.user;
  return ME;
}

function say(text, kind = 'error') {
  const el = $('#message');
  el.textContent = text;
  el.className = kind;
}

class StepUp extends Error {}

// A state-changing request: JSON with the session's CSRF token.
async function post(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'X-CSRF-Token': ME.csrf,
    },
    body: JSON.stringify(body ?? {}),
  });
  const challenge = res.headers.get('WWW-Authenticate') || '';
  if (res.status === 401 && challenge.includes('insufficient_user_authentication')) {
    throw new StepUp(challenge);
  }
  let data = {};
  try { data = await res.json(); } catch (_) { /* empty body */ }
  if (!res.ok) throw new Error(data.error || 'Request failed (' + res.status + ').');
  return data;
}

async function getJson(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
  let data = {};
  try { data = await res.json(); } catch (_) { /* empty body */ }
  if (!res.ok) throw new Error(data.error || 'Request failed (' + res.status + ').');
  return data;
}

function goTo(stage) {
  if (stage === 'mfa') location.assign('/mfa');
  else if (stage === 'ok' || stage === 'enroll') location.assign('/account');
  else location.assign('/');
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// ---------------------------------------------------------------- WebAuthn

function webauthnAvailable() {
  return window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON;
}

// An assertion: sign-in with a passkey alone, a second factor, or a step-up.
async function passkeyAssertion(mediation, signal) {
  const { options } = await post('/api/passkey/begin');
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
  const request = { publicKey };
  if (mediation) request.mediation = mediation;
  if (signal) request.signal = signal;
  const credential = await navigator.credentials.get(request);
  return post('/api/passkey/finish', credential.toJSON());
}

async function passkeyRegistration() {
  const { options } = await post('/api/passkey/register/begin');
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
  const credential = await navigator.credentials.create({ publicKey });
  return post('/api/passkey/register/finish', credential.toJSON());
}

function onSubmit(sel, fn) {
  $(sel).addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try { await fn(); } catch (e) { say(e.message); }
  });
}

function onClick(sel, fn) {
  $(sel).addEventListener('click', async () => {
    try { await fn(); } catch (e) { say(e.message); }
  });
}

// ---------------------------------------------------------------- pages

const pages = {
  async index() {
    if (ME.stage !== 'anonymous') { goTo(ME.stage); return; }
    let conditional = null;
    // Passkey autofill (conditional mediation) where the browser offers it, started
    // when the user name field is first used.
    $('#signin-username').addEventListener('focus', async () => {
      if (conditional || !webauthnAvailable()) return;
      if (!PublicKeyCredential.isConditionalMediationAvailable) return;
      if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
      conditional = new AbortController();
      try {
        const r = await passkeyAssertion('conditional', conditional.signal);
        goTo(r.stage);
      } catch (e) {
        if (e.name !== 'AbortError') say(e.message);
      }
    }, { once: true });
    const stopConditional = () => { if (conditional) conditional.abort(); };
    onSubmit('#signin-form', async () => {
      stopConditional();
      const r = await post('/api/signin', {
        username: $('#signin-username').value.trim(),
        password: $('#signin-password').value,
      });
      goTo(r.stage);
    });
    onSubmit('#signup-form', async () => {
      stopConditional();
      const r = await post('/api/signup', {
        username: $('#signup-username').value.trim(),
        password: $('#signup-password').value,
      });
      goTo(r.stage);
    });
    onClick('#passkey-signin', async () => {
      stopConditional();
      if (!webauthnAvailable()) throw new Error('This browser has no passkey support.');
      const r = await passkeyAssertion();
      goTo(r.stage);
    });
  },

  async mfa() {
    if (ME.stage === 'anonymous') { goTo(ME.stage); return; }
    const remember = () => $('#remember').checked;
    onSubmit('#totp-form', async () => {
      const r = await post('/api/verify', { kind: 'totp', code: $('#totp-code').value.trim(), remember: remember() });
      goTo(r.stage);
    });
    onSubmit('#recovery-form', async () => {
      const r = await post('/api/verify', { kind: 'recovery', code: $('#recovery-code').value, remember: remember() });
      goTo(r.stage);
    });
    onClick('#mfa-passkey', async () => {
      const r = await passkeyAssertion();
      goTo(r.stage);
    });
  },

  async account() {
    if (ME.stage === 'anonymous' || ME.stage === 'mfa') { goTo(ME.stage); return; }
    const enrolling = ME.stage === 'enroll';
    $('#enroll-note').hidden = !enrolling;
    $('#admin-link').hidden = !ME.admin;
    $('#pay-link').hidden = enrolling;
    $('#devices-card').hidden = enrolling;
    await showFactors();
    if (!enrolling) { await showRecovery(); await showDevices(); }

    onClick('#signout', async () => { await post('/api/signout'); location.assign('/'); });
    onClick('#totp-start', async () => {
      const r = await post('/api/totp/begin');
      $('#totp-secret').textContent = r.secret;
      $('#totp-qr').src = r.qr + '?t=' + Date.now();
      $('#totp-enroll').hidden = false;
      $('#totp-confirm-code').focus();
    });
    onSubmit('#totp-confirm-form', async () => {
      const r = await post('/api/totp/confirm', { code: $('#totp-confirm-code').value.trim() });
      say('Authenticator app added.', 'ok');
      if (r.stage !== ME.stage) { location.assign('/account?added=totp'); return; }
      $('#totp-enroll').hidden = true;
      await showFactors();
    });
    onClick('#passkey-add', async () => {
      if (!webauthnAvailable()) throw new Error('This browser has no passkey support.');
      await passkeyRegistration();
      await showFactors();
      say('Passkey added.', 'ok');
    });
    onClick('#recovery-generate', async () => {
      const r = await post('/api/recovery/generate');
      await showRecovery();
      await showFactors();
      const list = $('#recovery-new-list');
      list.replaceChildren(...r.codes.map((c) => el('li', c)));
      $('#recovery-new').hidden = false;
    });
    if (new URLSearchParams(location.search).get('added') === 'totp') {
      say('Authenticator app added. You are signed in.', 'ok');
    }
  },

  async stepup() {
    if (ME.stage !== 'ok') { goTo(ME.stage); return; }
    const q = new URLSearchParams(location.search);
    const next = q.get('next') || '/account';
    const age = q.get('max_age');
    $('#stepup-reason').textContent = 'Required: ' + (q.get('acr_values') || 'a second factor') +
      (age ? ' within ' + Math.round(age / 60) + ' minutes' : '') + '.';
    onClick('#stepup-passkey', async () => {
      await passkeyAssertion();
      // Only a local path: never an absolute or scheme-relative URL.
      location.assign(next.startsWith('/') && !next.startsWith('//') ? next : '/account');
    });
  },

  async pay() {
    onSubmit('#pay-form', async () => {
      try {
        const r = await post('/api/pay', { to: $('#pay-to').value.trim(), amount: $('#pay-amount').value.trim() });
        $('#pay-result').textContent = r.sent;
        say('');
      } catch (e) {
        if (e instanceof StepUp) {
          location.assign('/step-up?next=/pay');
          return;
        }
        throw e;
      }
    });
  },

  async admin() {
    await showUsers();
    await showAudit();
  },
};

async function showFactors() {
  const { factors } = await getJson('/api/factors');
  const ul = $('#factors');
  if (factors.length === 0) { ul.replaceChildren(el('li', 'None yet.')); return; }
  ul.replaceChildren(...factors.map((f) => {
    const li = el('li');
    li.append(el('strong', f.label), ' ', el('span', f.kind, 'tag'));
    if (!f.confirmed) li.append(' ', el('span', 'not confirmed', 'tag warn'));
    if (f.remaining_codes !== null && f.remaining_codes !== undefined) {
      li.append(' ', el('span', f.remaining_codes + ' codes left', 'tag'));
    }
    li.dataset.kind = f.kind;
    return li;
  }));
}

async function showRecovery() {
  const { codes } = await getJson('/api/recovery');
  const ul = $('#recovery-list');
  $('#recovery-list-title').hidden = codes.length === 0;
  $('#recovery-generate').textContent = codes.length ? 'Regenerate recovery codes' : 'Generate recovery codes';
  ul.replaceChildren(...codes.map((c) => {
    const li = el('li', c.hint, c.used ? 'used' : '');
    if (c.used) li.append(' ', el('span', 'used', 'tag warn'));
    return li;
  }));
}

async function showDevices() {
  const { devices } = await getJson('/api/devices');
  const ul = $('#devices');
  if (devices.length === 0) { ul.replaceChildren(el('li', 'No remembered devices.')); return; }
  ul.replaceChildren(...devices.map((d) => {
    const li = el('li');
    const until = new Date(d.expires_at * 1000).toLocaleDateString('en-GB');
    li.append(el('strong', d.label), ' until ' + until);
    if (d.this) li.append(' ', el('span', 'this device', 'tag'));
    const b = el('button', 'Forget', 'secondary small');
    b.type = 'button';
    b.addEventListener('click', async () => {
      try { await post('/api/devices/forget', { id: d.id }); await showDevices(); say('Device forgotten.', 'ok'); } catch (e) { say(e.message); }
    });
    li.append(' ', b);
    return li;
  }));
}

async function showUsers() {
  const { users } = await getJson('/api/admin/users');
  const tbody = $('#users tbody');
  tbody.replaceChildren(...users.map((u) => {
    const tr = el('tr');
    tr.append(el('td', u.user), el('td', String(u.factors)));
    const td = el('td');
    for (const [label, path] of [['Reset MFA', '/api/admin/reset'], ['Unlock', '/api/admin/unlock']]) {
      const b = el('button', label, 'secondary small');
      b.type = 'button';
      b.dataset.user = u.user;
      b.dataset.action = path.split('/').pop();
      b.addEventListener('click', async () => {
        try {
          await post(path, { user: u.user });
          await showUsers();
          await showAudit();
          say((label === 'Reset MFA' ? 'MFA reset for ' : 'Unlocked ') + u.user + '.', 'ok');
        } catch (e) { say(e.message); }
      });
      td.append(b, ' ');
    }
    tr.append(td);
    return tr;
  }));
}

async function showAudit() {
  const { events } = await getJson('/api/admin/audit');
  const tbody = $('#audit tbody');
  tbody.replaceChildren(...events.map((e) => {
    const tr = el('tr');
    tr.append(
      el('td', new Date(e.at * 1000).toISOString().replace('T', ' ').slice(0, 19)),
      el('td', e.user || '—'),
      el('td', e.event),
      el('td', e.kind || ''),
    );
    return tr;
  }));
}

document.addEventListener('DOMContentLoaded', async () => {
  try {
    await loadMe();
    const page = pages[document.body.dataset.page];
    if (page) await page();
    document.body.dataset.ready = 'true';
  } catch (e) {
    say(e.message);
  }
});
