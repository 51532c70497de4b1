// A real OpenID provider for the OIDC tests: panva's oidc-provider (an OpenID-certified OP) with
// its development login screens (any login, any password), run by tests/oidc_provider.py.
//
// Environment: OP_PORT, OP_ISSUER (default http://127.0.0.1:PORT), OP_JWKS (path of a JSON
// {"keys": [private JWKs]}; the first signs: a restart with a new file is a key rotation),
// OP_REDIRECT_URIS (comma-separated, for both clients), OP_CLIENT_SECRET (the secret of the
// confidential client "testflow-confidential"; the public client "testflow-ui" has none).
//
// Accounts: the login names the groups claim: "admin-*" -> tf-admins, "runner-*" -> tf-runners,
// "viewer-*" -> tf-viewers, anything else -> staff (no testflow role). A "short-" prefix
// ("short-runner-x") gives access tokens that live OP_SHORT_TTL_S seconds (default 2: the
// expiry and renewal tests).
// Refresh tokens: by default only for the offline_access scope (oidc-provider's own rule, which
// also wants prompt=consent); OP_REFRESH_TOKENS=session gives one with every code grant, ending
// with the provider's session, as Keycloak does (the UI's renewal tests use both).
// Resources (RFC 8707, the access token's audience): urn:testflow:api (RS256, the default),
// urn:testflow:api:es256 (same audience, ES256), urn:other:api (another audience).
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.env.OP_PORT ?? 0);
const issuer = process.env.OP_ISSUER ?? `http://127.0.0.1:${port}`;
const jwks = JSON.parse(readFileSync(process.env.OP_JWKS, 'utf8'));
const shortTtl = Number(process.env.OP_SHORT_TTL_S ?? 2);
const sessionRefreshTokens = process.env.OP_REFRESH_TOKENS === 'session';
const redirectUris = (process.env.OP_REDIRECT_URIS ?? 'http://127.0.0.1/callback').split(',');

const GROUPS = { admin: ['tf-admins'], runner: ['tf-runners'], viewer: ['tf-viewers'] };
const groupsOf = (login) => GROUPS[login.replace(/^short-/, '').split('-')[0]] ?? ['staff'];

const RESOURCES = {
  'urn:testflow:api': { audience: 'urn:testflow:api', alg: 'RS256' },
  'urn:testflow:api:es256': { audience: 'urn:testflow:api', alg: 'ES256' },
  'urn:other:api': { audience: 'urn:other:api', alg: 'RS256' },
};

const provider = new Provider(issuer, {
  jwks,
  clients: [
    {
      client_id: 'testflow-ui',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris,
      post_logout_redirect_uris: [...new Set(redirectUris.map((u) => new URL(u).origin + '/'))],
    },
    {
      client_id: 'testflow-confidential',
      client_secret: process.env.OP_CLIENT_SECRET ?? 'not-a-real-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris,
    },
  ],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], groups: ['groups'] },
  scopes: ['openid', 'offline_access', 'profile', 'groups'],
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, name: sub, preferred_username: sub, groups: groupsOf(sub) };
      },
    };
  },
  async extraTokenClaims(_ctx, token) {
    if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
    return { groups: groupsOf(token.accountId), preferred_username: token.accountId };
  },
  ttl: {
    AccessToken: (_ctx, token) => (token.accountId?.startsWith('short-') ? shortTtl : 600),
  },
  async issueRefreshToken(_ctx, client, code) {
    if (!client.grantTypeAllowed('refresh_token')) return false;
    return sessionRefreshTokens || code.scopes.has('offline_access');
  },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? 'urn:testflow:api',
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        const info = RESOURCES[indicator];
        if (!info) throw new Error(`unknown resource ${indicator}`);
        return {
          scope: 'api',
          audience: info.audience,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: info.alg } },
        };
      },
    },
  },
});
provider.proxy = false;

const server = provider.listen(port, '127.0.0.1', () => {
  // The test fixture waits for this line (and reads the port when OP_PORT was 0).
  console.log(`oidc-provider listening on ${server.address().port} issuer ${issuer}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
