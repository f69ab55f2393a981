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
  if (!res.ok) {
    const e = new Error(data.error || 'Request failed (' + res.status + ').');
    e.signals = data.signals;
    throw e;
  }
  // A request that raised the session moved it to a new id: the CSRF token, derived
  // from the id, changed with it.
  if (typeof data.csrf === 'string') ME.csrf = data.csrf;
  return data;
}

// Where to go after a step-up: `next` resolved against this page's origin, followed
// only when it stays on it (a check of the string alone lets `/\evil.example`, which
// browsers read as `//evil.example`, through).
function sameOrigin(next, fallback) {
  try {
    const u = new URL(next, location.origin);
    if (u.origin === location.origin) return u.pathname + u.search + u.hash;
  } catch (_) { /* not a URL */ }
  return fallback;
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
  let r;
  try {
    r = await post('/api/passkey/finish', credential.toJSON());
  } catch (e) {
    // A passkey this site no longer has: tell the provider to forget it.
    if (e.signals && await sendSignals(e.signals)) {
      e.message += ' That passkey is no longer registered here; your passkey provider was told to forget it.';
    }
    throw e;
  }
  await sendSignals(r.signals);
  return r;
}

// The Signal API (WebAuthn L3 §5.1.10), where the browser has it: the server's
// payloads are exactly the options these methods take. Waited for (briefly) so that a
// navigation right after does not cut them off; a failure changes nothing for the user.
async function sendSignals(signals) {
  if (!signals || !window.PublicKeyCredential) return false;
  const calls = [];
  if (signals.unknownCredential && PublicKeyCredential.signalUnknownCredential) {
    calls.push(PublicKeyCredential.signalUnknownCredential(signals.unknownCredential));
  }
  if (signals.allAcceptedCredentials && PublicKeyCredential.signalAllAcceptedCredentials) {
    calls.push(PublicKeyCredential.signalAllAcceptedCredentials(signals.allAcceptedCredentials));
  }
  if (signals.currentUserDetails && PublicKeyCredential.signalCurrentUserDetails) {
    calls.push(PublicKeyCredential.signalCurrentUserDetails(signals.currentUserDetails));
  }
  if (calls.length === 0) return false;
  const settled = Promise.allSettled(calls).then(() => true);
  return Promise.race([settled, new Promise((ok) => setTimeout(() => ok(true), 2000))]);
}

// The passkey upgrade right after a password sign-in (conditional create, WebAuthn L3
// §5.1.3): offered only when the browser says it can create a passkey without a
// prompt; the browser decides whether to (Chromium only after its password manager
// filled the password), and the promise may never settle, so it is abortable.
let upgrade = null;
async function offerPasskeyUpgrade(factors) {
  if (sessionStorage.getItem('passkey-upgrade') !== '1') return;
  sessionStorage.removeItem('passkey-upgrade');
  if (!webauthnAvailable() || !PublicKeyCredential.getClientCapabilities) return;
  if (factors.some((f) => f.confirmed && f.kind.startsWith('webauthn'))) return;
  const caps = await PublicKeyCredential.getClientCapabilities();
  if (!caps.conditionalCreate) return;
  upgrade = new AbortController();
  document.body.dataset.passkeyUpgrade = 'offered';
  (async () => {
    const { options } = await post('/api/passkey/upgrade/begin');
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
    const credential = await navigator.credentials.create({ publicKey, mediation: 'conditional', signal: upgrade.signal });
    await post('/api/passkey/upgrade/finish', credential.toJSON());
    document.body.dataset.passkeyUpgrade = 'done';
    await showFactors();
    say('A passkey was saved for this account: next time, sign in with it.', 'ok');
  })().catch(() => { /* an offer: refused, aborted or not allowed, nothing to say */ });
}

function stopUpgrade() { if (upgrade) upgrade.abort(); upgrade = null; }

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
      // A password just now: the account page may offer the passkey upgrade.
      sessionStorage.setItem('passkey-upgrade', '1');
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

    const { factors } = await getJson('/api/factors');
    // Only the cards of factors the user has.
    const has = (test) => factors.some((f) => f.confirmed && test(f.kind));
    $('#totp-card').hidden = !has((k) => k === 'totp');
    $('#passkey-card').hidden = !has((k) => k.startsWith('webauthn'));
    $('#recovery-card').hidden = !has((k) => k === 'recovery-code');
    const oob = factors.filter((f) => f.confirmed && ['sms', 'email', 'voice'].includes(f.kind));
    $('#oob-card').hidden = oob.length === 0;
    $('#oob-factors').replaceChildren(...oob.map((f) => {
      const b = el('button', 'Send a code to ' + (f.destination || f.label), 'secondary');
      b.type = 'button';
      b.dataset.factor = f.id;
      b.dataset.kind = f.kind;
      b.addEventListener('click', async () => {
        try {
          const r = await post('/api/oob/start', { id: f.id });
          $('#oob-sent').textContent = 'Code sent to ' + r.destination + '.';
          $('#oob-form').hidden = false;
          say('');
        } catch (e) { say(e.message); }
      });
      return b;
    }));
    onSubmit('#oob-form', async () => {
      const r = await post('/api/verify', { kind: 'oob', code: $('#oob-code').value.trim(), remember: remember() });
      goTo(r.stage);
    });

    $('#push-card').hidden = !factors.some((f) => f.confirmed && f.kind === 'push');
    let round = 0;
    // The nonce of this page's push: only the page that asked can complete it.
    let pushNonce = '';
    const poll = async (mine) => {
      if (mine !== round) return;
      const { status } = await getJson('/api/push/status');
      if (mine !== round) return;
      const state = $('#push-state');
      if (status === 'pending') { setTimeout(() => poll(mine).catch((e) => say(e.message)), 1000); return; }
      if (status === 'approved') {
        state.textContent = 'Approved on your phone. Signing in…';
        const r = await post('/api/verify', { kind: 'push', code: '', nonce: pushNonce, remember: remember() });
        goTo(r.stage);
        return;
      }
      state.textContent = {
        wrong_number: 'The number entered on the phone was not this one: sign-in refused. Send a new push to try again.',
        denied: 'Denied on your phone: sign-in refused.',
      }[status] || 'The push expired. Send a new one.';
      state.className = 'error';
      state.dataset.status = status;
    };
    onClick('#push-send', async () => {
      const r = await post('/api/push/start');
      round += 1;
      pushNonce = r.nonce;
      $('#push-number').textContent = r.number;
      const state = $('#push-state');
      state.textContent = 'Waiting for your phone…';
      state.className = '';
      state.dataset.status = 'pending';
      $('#push-wait').hidden = false;
      await poll(round);
    });
  },

  async account() {
    if (ME.stage === 'anonymous' || ME.stage === 'mfa') { goTo(ME.stage); return; }
    const enrolling = ME.stage === 'enroll';
    $('#enroll-note').hidden = !enrolling;
    // The policy's grace period: "set up later", while it lasts.
    if (enrolling && ME.grace) {
      const g = ME.grace;
      const left = g.days_left != null ? `${g.days_left} days left` : `${g.sign_ins_left} sign-ins left`;
      $('#enroll-later').textContent = `Set up later (${left})`;
      $('#enroll-later').hidden = false;
      onClick('#enroll-later', async () => {
        const r = await post('/api/enroll/skip');
        location.assign('/account?later=1');
        return r;
      });
    }
    $('#admin-link').hidden = !ME.admin;
    $('#pay-link').hidden = enrolling;
    $('#devices-card').hidden = enrolling;
    const factors = await showFactors();
    if (!enrolling) { await showRecovery(); await showDevices(); await offerPasskeyUpgrade(factors); }

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
      stopUpgrade();
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
    onSubmit('#oob-enroll-form', async () => {
      const r = await post('/api/oob/enroll', {
        channel: $('#oob-channel').value,
        destination: $('#oob-destination').value.trim(),
      });
      $('#oob-enroll-sent').textContent = 'Code sent to ' + r.destination + '. Read it in the demo outbox.';
      $('#oob-confirm-form').hidden = false;
      say('');
    });
    onSubmit('#oob-confirm-form', async () => {
      const r = await post('/api/oob/confirm', { code: $('#oob-confirm-code').value.trim() });
      if (r.stage !== ME.stage) { location.assign('/account?added=oob'); return; }
      say('Text message or email added.', 'ok');
      $('#oob-confirm-form').hidden = true;
      await showFactors();
    });
    onClick('#push-pair', async () => {
      const r = await post('/api/push/enroll');
      const pairing = { account: r.account, challenge_id: r.challenge_id, challenge: r.challenge };
      // The pairing secret travels in the fragment: never sent to a server or logged.
      $('#phone-link').href = '/phone#pair=' + b64u.enc(new TextEncoder().encode(JSON.stringify(pairing)));
      $('#push-pairing').hidden = false;
      const before = (await getJson('/api/factors')).factors.filter((f) => f.kind === 'push').length;
      const until = Date.now() + 600_000;
      const wait = async () => {
        const { factors } = await getJson('/api/factors');
        if (factors.filter((f) => f.kind === 'push').length > before) {
          await showFactors();
          $('#push-pair-state').textContent = 'Phone paired.';
          say('Phone paired for push approval.', 'ok');
          // Enrolling: pairing proved nothing in this browser; verify with the phone.
          if (ME.stage === 'enroll') {
            const r = await post('/api/stage');
            if (r.stage !== 'enroll') goTo(r.stage);
          }
        } else if (Date.now() < until) {
          setTimeout(() => wait().catch((e) => say(e.message)), 1500);
        }
      };
      await wait();
    });
    if (new URLSearchParams(location.search).get('later')) say('Signed in. Add a second factor soon: the grace period is limited.', 'ok');
    const added = new URLSearchParams(location.search).get('added');
    if (added === 'totp') say('Authenticator app added. You are signed in.', 'ok');
    if (added === 'oob') say('Text message or email added. You are signed in.', 'ok');
  },

  async outbox() {
    const show = async () => {
      const { messages } = await getJson('/api/outbox');
      const ol = $('#outbox');
      if (messages.length === 0) { ol.replaceChildren(el('li', 'No messages yet.')); return; }
      ol.replaceChildren(...messages.map((m) => {
        const li = el('li');
        li.dataset.channel = m.channel || '';
        li.append(el('div', 'To ' + m.to + ' · ' + m.channel + (m.subject ? ' · ' + m.subject : ''), 'meta'));
        li.append(el('pre', m.body));
        return li;
      }));
    };
    onClick('#outbox-refresh', show);
    if (ME.stage === 'anonymous') { say('Sign in first: the outbox shows the messages sent for you.'); return; }
    await show();
  },

  async phone() { await phonePage(); },

  async stepup() {
    if (ME.stage !== 'ok') { goTo(ME.stage); return; }
    const q = new URLSearchParams(location.search);
    const next = q.get('next') || '/account';
    const age = q.get('max_age');
    $('#stepup-reason').textContent = 'Required: ' + (q.get('acr_values') || 'a second factor') +
      (age ? ' within ' + Math.round(age / 60) + ' minutes' : '') + '.';
    onClick('#stepup-passkey', async () => {
      await passkeyAssertion();
      location.assign(sameOrigin(next, '/account'));
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
  if (factors.length === 0) { ul.replaceChildren(el('li', 'None yet.')); return factors; }
  ul.replaceChildren(...factors.map((f) => {
    const li = el('li');
    li.append(el('strong', f.label), ' ', el('span', f.kind, 'tag'));
    if (f.destination) li.append(' ', el('span', f.destination, 'tag'));
    if (f.provider) {
      // The AAGUID of a `none` attestation is the authenticator's claim: say so.
      li.append(' ', el('span', f.provider + (f.provider_claimed ? ' (as reported)' : ''), 'tag'));
    }
    if (!f.confirmed) li.append(' ', el('span', 'not confirmed', 'tag warn'));
    if (f.remaining_codes !== null && f.remaining_codes !== undefined) {
      li.append(' ', el('span', f.remaining_codes + ' codes left', 'tag'));
    }
    if (f.confirmed && ME.stage === 'ok') {
      const b = el('button', 'Remove', 'secondary small');
      b.type = 'button';
      b.dataset.remove = f.id;
      b.addEventListener('click', async () => {
        try {
          const r = await post('/api/factors/remove', { id: f.id });
          // A passkey removed: the provider hides the ones this site dropped.
          await sendSignals(r.signals);
          await showFactors();
          say(f.label + ' removed.', 'ok');
        } catch (e) { say(e instanceof StepUp ? 'Verify a second factor first.' : e.message); }
      });
      li.append(' ', b);
    }
    li.dataset.kind = f.kind;
    return li;
  }));
  return factors;
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

// ---------------------------------------------------------------- the demo phone
//
// The device side of mfa-oob's push factor, in plain WebCrypto: a P-256 key made here
// (not extractable, kept in IndexedDB), the enrollment signature over
// "mfa-oob push enroll v1" || challenge || public key, and answers in the push
// response v1 encoding (crates/mfa-oob/src/push/encoding.rs), signed with ES256.

const b64u = {
  enc(bytes) {
    let s = '';
    for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  },
  dec(text) {
    const s = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  },
};

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const ascii = (s) => new TextEncoder().encode(s);
const P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551n;

// ES256 over `data`: WebCrypto gives r || s (64 bytes); s is put in its low form, which
// every verifier accepts.
async function es256(key, data) {
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, data));
  let s = 0n;
  for (const b of sig.slice(32)) s = (s << 8n) | BigInt(b);
  if (s > P256_N / 2n) {
    s = P256_N - s;
    for (let i = 63; i >= 32; i -= 1) { sig[i] = Number(s & 0xffn); s >>= 8n; }
  }
  return sig;
}

function deviceStore(mode, fn) {
  return new Promise((ok, fail) => {
    const open = indexedDB.open('mfa-demo-phone', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('device');
    open.onerror = () => fail(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction('device', mode);
      const req = fn(tx.objectStore('device'));
      tx.oncomplete = () => ok(req.result);
      tx.onerror = () => fail(tx.error);
    };
  });
}
const loadDevice = () => deviceStore('readonly', (s) => s.get('device'));
const saveDevice = (d) => deviceStore('readwrite', (s) => s.put(d, 'device'));

// The phone's POST: no cookies either way (the phone is another device; its requests
// are authenticated by the pairing secret, the push token and its signatures).
async function phonePost(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'omit',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  let data = {};
  try { data = await res.json(); } catch (_) { /* empty body */ }
  if (!res.ok) throw new Error(data.error || 'Request failed (' + res.status + ').');
  return data;
}

async function pairPhone(pairing) {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey));
  const pushToken = b64u.enc(crypto.getRandomValues(new Uint8Array(32)));
  const signed = concat(ascii('mfa-oob push enroll v1'), b64u.dec(pairing.challenge), publicKey);
  const signature = await es256(keys.privateKey, signed);
  await phonePost('/api/phone/enroll', {
    account: pairing.account,
    challenge_id: pairing.challenge_id,
    request: {
      public_key: b64u.enc(publicKey),
      device_name: 'Demo phone',
      push_token: pushToken,
      signature: b64u.enc(signature),
    },
  });
  await saveDevice({ privateKey: keys.privateKey, pushToken, account: pairing.account });
}

async function answerPush(device, n, approve, number) {
  const entered = approve ? ascii(number) : new Uint8Array(0);
  const time = new Uint8Array(8);
  new DataView(time.buffer).setBigUint64(0, BigInt(Math.floor(Date.now() / 1000)));
  const signed = concat(ascii('mfa-oob push response v1'), b64u.dec(n.transaction), b64u.dec(n.nonce),
    Uint8Array.of(approve ? 1 : 2, entered.length), entered, time);
  const signature = await es256(device.privateKey, signed);
  return phonePost('/api/phone/respond', { account: n.account, response: b64u.enc(concat(signed, signature)) });
}

async function phonePage() {
  const show = (id) => {
    for (const s of ['#phone-unpaired', '#phone-idle', '#phone-request', '#phone-result']) $(s).hidden = s !== id;
  };
  const pair = new URLSearchParams(location.hash.slice(1)).get('pair');
  if (pair) {
    history.replaceState(null, '', '/phone');
    try {
      await pairPhone(JSON.parse(new TextDecoder().decode(b64u.dec(pair))));
      say('Paired: this phone now approves sign-ins.', 'ok');
    } catch (e) { say(e.message); }
  }
  const device = await loadDevice();
  if (!device) { show('#phone-unpaired'); return; }
  $('#phone-who').textContent = 'Phone of ' + device.account;
  let current = null;
  const answered = new Set();
  const result = (title, text, status) => {
    $('#phone-result-title').textContent = title;
    $('#phone-result-text').textContent = text;
    $('#phone-result').dataset.status = status;
    show('#phone-result');
  };
  const answer = async (approve) => {
    const n = current;
    if (!n) return;
    const number = $('#push-number-input').value.trim();
    if (approve && !/^[0-9]{1,8}$/.test(number)) { say('Enter the number shown on the sign-in page.'); return; }
    answered.add(n.transaction);
    current = null;
    const { status } = await answerPush(device, n, approve, number);
    say('');
    if (status === 'approved') result('Approved', 'Go back to the sign-in page: it signs you in.', status);
    else if (status === 'wrong_number') result('Wrong number', 'That was not the number on the sign-in page, so the sign-in was refused. If you did not start it, someone else knows your password.', status);
    else if (status === 'denied') result('Denied', 'The sign-in was refused and reported.', status);
    else result('Not accepted', 'The request had expired.', status);
  };
  onSubmit('#push-form', () => answer(true));
  onClick('#push-deny', () => answer(false));
  const poll = async () => {
    const { notifications } = await phonePost('/api/phone/inbox', { push_token: device.pushToken });
    const n = notifications.find((x) => !answered.has(x.transaction));
    if (n && (!current || current.transaction !== n.transaction)) {
      current = n;
      $('#push-account').textContent = n.account;
      $('#push-application').textContent = n.context.application || 'unknown';
      $('#push-from').textContent = [n.context.client_ip, n.context.location].filter(Boolean).join(', ') || 'unknown';
      $('#push-time').textContent = new Date(n.created_at * 1000).toLocaleTimeString('en-GB');
      $('#push-number-input').maxLength = n.digits;
      $('#push-number-input').value = '';
      show('#phone-request');
    } else if (!n && !current && $('#phone-result').hidden) {
      show('#phone-idle');
    }
  };
  await poll();
  setInterval(() => poll().catch((e) => say(e.message)), 1000);
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
