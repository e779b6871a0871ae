// Authentication of realtime connections at the WebSocket handshake, before any upgrade (docs/protocol.md,
// "Connecting and authenticating"). A JWT verified with jose: HS256 with a shared secret (the demo), or a public key
// (PEM) or a JWKS URL (real deployments). The token is read from `Authorization: Bearer`, then from a
// `Sec-WebSocket-Protocol` entry `token.<jwt>` offered next to `hayate.v1`, then from the `token` query parameter.
// Development mode admits anonymous users named by `?name=` or a generated name. It does not parse HTTP (the
// transport hands in headers and query) and does not issue tokens.
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { UserRef } from './messages.js';

/** SUBPROTOCOL is the WebSocket subprotocol of the realtime protocol; the server answers it when offered. */
export const SUBPROTOCOL = 'hayate.v1';

/** TOKEN_PROTOCOL_PREFIX starts the `Sec-WebSocket-Protocol` entry carrying a JWT: `token.<jwt>`. */
export const TOKEN_PROTOCOL_PREFIX = 'token.';

/** AuthOptions configures an Authenticator; give one of `secret`, `publicKey`, `jwksUrl`, or `dev`. */
export interface AuthOptions {
  /** HS256 shared secret (e.g. from `HAYATE_JWT_SECRET`). */
  secret?: string;
  /** PEM public key (SPKI) for RS256/ES256/EdDSA tokens. */
  publicKey?: string;
  /** URL of a JSON Web Key Set (fetched and cached by jose). */
  jwksUrl?: string;
  /** Required `iss` claim, when set. */
  issuer?: string;
  /** Required `aud` claim, when set. */
  audience?: string;
  /** Admit connections without a token as anonymous users. Default false. */
  dev?: boolean;
  /** Accepted clock skew for `exp`/`nbf`, in seconds. Default 30. */
  clockToleranceSeconds?: number;
}

/** AuthRequest is what authentication reads from a handshake request. */
export interface AuthRequest {
  headers: Record<string, string | string[] | undefined>;
  query: URLSearchParams;
}

/** Identity is an authenticated user, with the time its token expires (ms since the Unix epoch), if any. */
export interface Identity {
  user: UserRef;
  expiresAt?: number;
  /** True for a development-mode anonymous user. */
  anonymous: boolean;
}

/** AuthResult is an admitted identity or the HTTP refusal to answer instead of upgrading. */
export type AuthResult = { ok: true; identity: Identity } | { ok: false; status: 400 | 401; reason: string };

/** Authenticator verifies handshake requests. */
export interface Authenticator {
  /** authenticate admits or refuses one handshake request; it never throws. */
  authenticate(request: AuthRequest): Promise<AuthResult>;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** offeredProtocols splits a `Sec-WebSocket-Protocol` header value into its entries. */
export function offeredProtocols(header: string | string[] | undefined): string[] {
  const value = headerValue(header);
  if (value === undefined || value === '') return [];
  return value.split(',').map((p) => p.trim()).filter((p) => p !== '');
}

/** selectSubprotocol returns the protocol the server answers (`hayate.v1` when offered), or false for none. */
export function selectSubprotocol(offered: Iterable<string>): string | false {
  for (const protocol of offered) if (protocol === SUBPROTOCOL) return SUBPROTOCOL;
  return false;
}

type TokenSource = { token: string } | { token: undefined } | { error: string };

/** tokenFromRequest finds the token in the header, subprotocol or query, in that order. */
export function tokenFromRequest(request: AuthRequest): TokenSource {
  const authorization = headerValue(request.headers.authorization);
  if (authorization !== undefined) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match === null) return { error: 'malformed Authorization header (expected "Bearer <token>")' };
    return { token: match[1] };
  }
  const protocols = offeredProtocols(request.headers['sec-websocket-protocol']);
  const carrier = protocols.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
  if (carrier !== undefined) {
    if (!protocols.includes(SUBPROTOCOL)) return { error: `a token subprotocol must be offered with ${SUBPROTOCOL}` };
    return { token: carrier.slice(TOKEN_PROTOCOL_PREFIX.length) };
  }
  const query = request.query.get('token');
  if (query !== null && query !== '') return { token: query };
  return { token: undefined };
}

// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f]/g;

/** devName cleans a development-mode display name: trimmed, printable, at most 32 characters (empty when unusable). */
export function devName(raw: string | null): string {
  if (raw === null) return '';
  return Array.from(raw.replace(UNPRINTABLE, '').trim()).slice(0, 32).join('').trim();
}

/** createAuthenticator builds an Authenticator from options (throws when no verification method is configured). */
export function createAuthenticator(options: AuthOptions): Authenticator {
  let key: Uint8Array | KeyObject | JWTVerifyGetKey | undefined;
  if (options.secret !== undefined && options.secret !== '') key = new TextEncoder().encode(options.secret);
  else if (options.publicKey !== undefined && options.publicKey !== '') key = createPublicKey(options.publicKey);
  else if (options.jwksUrl !== undefined && options.jwksUrl !== '') key = createRemoteJWKSet(new URL(options.jwksUrl));
  if (key === undefined && options.dev !== true) {
    throw new Error('authentication needs a JWT secret, a public key or a JWKS URL (or dev mode)');
  }
  const verifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    clockTolerance: options.clockToleranceSeconds ?? 30,
    algorithms: options.secret !== undefined && options.secret !== '' ? ['HS256'] : undefined,
  };
  return {
    async authenticate(request: AuthRequest): Promise<AuthResult> {
      const source = tokenFromRequest(request);
      if ('error' in source) return { ok: false, status: 401, reason: source.error };
      if (source.token === undefined) {
        if (options.dev !== true) return { ok: false, status: 401, reason: 'missing token' };
        const name = devName(request.query.get('name')) || `guest-${randomBytes(2).toString('hex')}`;
        return { ok: true, identity: { user: { id: `dev:${name}`, name }, anonymous: true } };
      }
      if (key === undefined) return { ok: false, status: 401, reason: 'tokens are not accepted by this server' };
      try {
        const { payload } = await jwtVerify(source.token, key as Uint8Array, verifyOptions);
        if (typeof payload.sub !== 'string' || payload.sub === '') {
          return { ok: false, status: 401, reason: 'token has no subject' };
        }
        const claimed = typeof payload.name === 'string' ? payload.name
          : typeof payload.preferred_username === 'string' ? payload.preferred_username : payload.sub;
        const identity: Identity = { user: { id: payload.sub, name: claimed }, anonymous: false };
        if (typeof payload.exp === 'number') identity.expiresAt = payload.exp * 1000;
        return { ok: true, identity };
      } catch (error) {
        return { ok: false, status: 401, reason: `invalid token: ${(error as Error).message}` };
      }
    },
  };
}
