// A real OpenID Connect provider (oidc-provider) at an Authentik-style path, for sign-in tests.
//
// Config comes as JSON in FAKE_OIDC_CONFIG: {port, slug, clients: [oidc-provider client metadata]}.
// Logins and consents are automatic. Who signs in is set by the test through the control
// endpoint POST /_fake/login {"user": {sub, preferred_username, email, name, groups},
// "id_token": {claim overrides, e.g. "iss", "exp" or "nonce"; null removes the claim}}: overrides
// re-sign the issued ID token so a test can get a wrong issuer, an expired token or a wrong or
// missing nonce. GET /_fake/id_tokens lists the ID tokens handed out so far, as sent. The process
// exits when stdin closes, so it never outlives the test run that started it.
import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.env.FAKE_OIDC_CONFIG);
const prefix = `/application/o/${config.slug}`;
const issuer = `http://127.0.0.1:${config.port}${prefix}/`;
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'fake', alg: 'RS256', use: 'sig' };

let current = { user: { sub: 'nobody', groups: [] }, id_token: {} };
const issued = [];

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
  pkce: { required: () => true },
  // Like Authentik: the profile claims and groups are in the ID token as well as userinfo.
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    // Authentik's profile scope mapping carries the groups; it has no groups scope.
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'groups'],
  },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = `<!doctype html><title>Sign out</title>${form}
          <button form="op.logoutForm" name="logout" value="yes">Sign out</button>`;
      },
    },
  },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ email_verified: true, ...current.user, sub }),
  }),
  // First-party client: every scope is granted without a consent screen.
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, IdToken: 600 },
});
provider.proxy = false;

function b64(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

function resign(idToken, overrides) {
  const [header, payload] = idToken.split('.');
  const claims = { ...JSON.parse(Buffer.from(payload, 'base64url')), ...overrides };
  for (const [name, value] of Object.entries(overrides)) if (value === null) delete claims[name];
  const head = JSON.parse(Buffer.from(header, 'base64url'));
  const signingInput = `${b64(head)}.${b64(claims)}`;
  const signature = crypto.sign('RSA-SHA256', Buffer.from(signingInput), privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}

provider.use(async (ctx, next) => {
  await next();
  const overrides = current.id_token || {};
  if (ctx.oidc?.route === 'token' && ctx.body?.id_token && Object.keys(overrides).length) {
    ctx.body = { ...ctx.body, id_token: resign(ctx.body.id_token, overrides) };
  }
  if (ctx.oidc?.route === 'token' && ctx.body?.id_token) issued.push(ctx.body.id_token);
});

const callback = provider.callback();

async function readJson(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return JSON.parse(body || '{}');
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.url === '/_fake/login' && req.method === 'POST') {
      current = await readJson(req);
      res.writeHead(204).end();
    } else if (req.url === '/_fake/id_tokens' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(issued));
    } else if (req.url.startsWith(`${prefix}/interaction/`)) {
      const result = { login: { accountId: current.user.sub } };
      await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    } else if (req.url.startsWith(`${prefix}/`)) {
      // Mounted like express does it: the provider reads the prefix from originalUrl.
      req.originalUrl = req.url;
      req.url = req.url.slice(prefix.length);
      callback(req, res);
    } else {
      res.writeHead(404).end('not found');
    }
  } catch (error) {
    res.writeHead(500).end(String(error));
  }
});

server.listen(config.port, '127.0.0.1', () => console.log(`listening ${issuer}`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
