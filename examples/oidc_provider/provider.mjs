// A certified OpenID provider (panva/oidc-provider) for examples/tests/oidc_provider.rs.
//
// Starts two providers on 127.0.0.1 (free ports): the one the resource server trusts and
// a second issuer it does not. Each has its own keys, generated at start. Prints one JSON
// line {"issuer", "other_issuer"}, then answers commands on stdin, one JSON per line:
//
//   {"id": 1, "url": "<authorization request URL>", "login": "password"}
//
// For each, it runs the authorization code flow (PKCE S256) like a browser would: it
// follows the redirects, and the interaction page signs the user in with the amr/acr/
// auth_time of the named login (no form, no password: the scenario *is* the login):
//
//   password        amr ["pwd"]         no acr
//   otp             amr ["pwd","otp"]   acr PAPE multi-factor
//   webauthn        amr ["pwd","hwk"]   acr PAPE phishing-resistant
//   webauthn-stale  as webauthn, authenticated 10 minutes ago (auth_time)
//
// then redeems the code at the token endpoint and prints {"id", "id_token", "rogue"}:
// the ID token, and the same claims signed by a key the provider never published
// (kid "rogue"). The ID token is the bearer token: its `aud` is the client id.
// Stops when stdin closes.

import { createServer } from 'node:http';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createInterface } from 'node:readline';
import Provider from 'oidc-provider';

const PAPE = 'http://schemas.openid.net/pape/policies/2007/06/';
const LOGINS = {
  password: { amr: ['pwd'] },
  otp: { amr: ['pwd', 'otp'], acr: `${PAPE}multi-factor` },
  webauthn: { amr: ['pwd', 'hwk'], acr: `${PAPE}phishing-resistant` },
  'webauthn-stale': { amr: ['pwd', 'hwk'], acr: `${PAPE}phishing-resistant`, ago: 600 },
};
const REDIRECT_URI = 'http://127.0.0.1:9/cb';
const b64u = (b) => Buffer.from(b).toString('base64url');

function rsaJwk(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }, privateKey };
}

async function start(name) {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const key = rsaJwk(`${name}-rs256`);
  const provider = new Provider(issuer, {
    clients: ['web', 'other'].map((client_id) => ({
      client_id,
      client_secret: `${client_id}-secret-0123456789abcdef`,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      require_auth_time: true,
    })),
    jwks: { keys: [key.jwk] },
    acrValues: [`${PAPE}multi-factor`, `${PAPE}phishing-resistant`],
    // acr, amr and auth_time in every ID token (they are session facts, not account claims).
    claims: { acr: null, amr: null, auth_time: null, openid: ['sub', 'acr', 'amr', 'auth_time'] },
    ttl: { AccessToken: 600, Grant: 600, IdToken: 3600, Interaction: 600, Session: 600 },
    features: { devInteractions: { enabled: false } },
    cookies: { keys: [b64u(randomBytes(32))] },
    findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    // Consent is not what is tested: every client gets `openid`.
    loadExistingGrant: async (ctx) => {
      const id = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (id) return ctx.oidc.provider.Grant.find(id);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid');
      await grant.save();
      return grant;
    },
  });
  provider.proxy = false;
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      try {
        const details = await provider.interactionDetails(req, res);
        const scenario = LOGINS[String(details.params.state).split('.')[0]];
        if (!scenario) throw new Error(`unknown login in state ${details.params.state}`);
        const now = Math.floor(Date.now() / 1000);
        await provider.interactionFinished(req, res, {
          login: {
            accountId: 'alice',
            amr: scenario.amr,
            ...(scenario.acr ? { acr: scenario.acr } : {}),
            ts: now - (scenario.ago ?? 0),
            remember: false,
          },
        }, { mergeWithLastSubmission: false });
      } catch (e) {
        res.statusCode = 500;
        res.end(String(e));
      }
      return;
    }
    callback(req, res);
  });
  return { issuer, server, provider };
}

/// The authorization code flow for `url` as `login`, with PKCE and a cookie jar.
async function flow(issuer, url, login) {
  const verifier = b64u(randomBytes(32));
  const auth = new URL(url);
  auth.searchParams.set('state', `${login}.${b64u(randomBytes(8))}`);
  auth.searchParams.set('nonce', b64u(randomBytes(8)));
  auth.searchParams.set('code_challenge', b64u(createHash('sha256').update(verifier).digest()));
  auth.searchParams.set('code_challenge_method', 'S256');
  const jar = new Map();
  let next = auth.href;
  for (let hops = 0; hops < 10; hops += 1) {
    if (next.startsWith(REDIRECT_URI)) break;
    const res = await fetch(next, {
      redirect: 'manual',
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    const location = res.headers.get('location');
    if (!location) throw new Error(`${next}: ${res.status} ${await res.text()}`);
    next = new URL(location, next).href;
  }
  const cb = new URL(next);
  if (!cb.href.startsWith(REDIRECT_URI)) throw new Error(`flow did not finish: ${next}`);
  if (cb.searchParams.get('error')) throw new Error(`${cb.searchParams.get('error')}: ${cb.searchParams.get('error_description')}`);
  const clientId = auth.searchParams.get('client_id');
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: cb.searchParams.get('code'),
      redirect_uri: REDIRECT_URI,
      client_id: clientId,
      client_secret: `${clientId}-secret-0123456789abcdef`,
      code_verifier: verifier,
    }),
  });
  const body = await res.json();
  if (!body.id_token) throw new Error(`token endpoint: ${JSON.stringify(body)}`);
  return body.id_token;
}

/// The same claims under a key the provider never published.
function rogue(token) {
  const payload = token.split('.')[1];
  const { privateKey } = rsaJwk('rogue');
  const header = b64u(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'rogue' }));
  const sig = sign('sha256', Buffer.from(`${header}.${payload}`), privateKey);
  return `${header}.${payload}.${b64u(sig)}`;
}

const trusted = await start('trusted');
const other = await start('other');
const issuers = { [trusted.issuer]: trusted, [other.issuer]: other };
process.stdout.write(`${JSON.stringify({ issuer: trusted.issuer, other_issuer: other.issuer })}\n`);

const rl = createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  let id = null;
  try {
    const cmd = JSON.parse(line);
    id = cmd.id;
    const url = new URL(cmd.url);
    const p = issuers[url.origin];
    if (!p) throw new Error(`no provider at ${url.origin}`);
    const idToken = await flow(p.issuer, cmd.url, cmd.login);
    process.stdout.write(`${JSON.stringify({ id, id_token: idToken, rogue: rogue(idToken) })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ id, error: String(e?.stack ?? e) })}\n`);
  }
});
rl.on('close', () => {
  trusted.server.close();
  other.server.close();
  process.exit(0);
});
