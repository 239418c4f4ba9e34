import type { JWTVerifyGetKey } from "jose";
import type { Logger } from "pino";
import { remoteKeySet } from "../../auth/external-tokens";
import type { IdentityProviderEntity } from "./identity-provider.entity";

export interface ProviderKeySetsDeps {
  /** JWKS fetch failures are logged here at debug level (callers see one generic message). */
  log?: Logger;
  /** NODE_ENV is "production": JWKS hosts may then not resolve to loopback addresses either. */
  production: boolean;
}

/** Remote JWKS settings (jose createRemoteJWKSet), per identity provider and node. */
export const JWKS_TIMEOUT_MS = 3_000;
export const JWKS_COOLDOWN_MS = 30_000;
export const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;
const JWKS_CACHE_MAX_PROVIDERS = 1_000;

/**
 * The remote key sets of identity providers (OIDC providers, and the partner keys asymmetric
 * partner JWTs are signed with), one per provider (and URI) per node.
 *
 * A JWKS is fetched with node:http(s), a 3 s timeout, no redirects, at most 256 KB; cached 10
 * minutes, refetched when a token names an unknown kid, at most every 30 s. The JWKS host must
 * resolve only to public addresses (checked on the addresses actually connected to): loopback,
 * private, link-local, unique-local, CGNAT, multicast, reserved, NAT64 and IPv4-mapped forms of
 * these are refused; outside production loopback is allowed (local development, tests). A JWKS
 * that cannot be obtained, for whatever reason, is TOKEN_INVALID with one generic message; the
 * reason is logged at debug level.
 */
export class ProviderKeySets {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();

  constructor(private readonly deps: ProviderKeySetsDeps) {}

  /** The provider's remote JWKS. A provider registered again has a new id, so nothing of the old one applies. */
  of(provider: IdentityProviderEntity): JWTVerifyGetKey {
    const cacheKey = `${provider.id}|${provider.jwksUri}`;
    let keySet = this.keySets.get(cacheKey);
    if (!keySet) {
      if (this.keySets.size >= JWKS_CACHE_MAX_PROVIDERS) this.keySets.clear();
      let host = "?";
      try {
        host = new URL(provider.jwksUri).host;
      } catch {
        // logged as "?"; the fetch itself fails generically
      }
      keySet = remoteKeySet(provider.jwksUri, {
        timeoutMs: JWKS_TIMEOUT_MS,
        cooldownMs: JWKS_COOLDOWN_MS,
        cacheMaxAgeMs: JWKS_CACHE_MAX_AGE_MS,
        addresses: { allowLoopback: !this.deps.production },
        // The host only (a path or query could carry a secret of the provider's), never the token.
        onFetchFailure: (detail) =>
          this.deps.log?.debug({ identityProviderId: provider.id, jwksHost: host, detail }, "JWKS fetch failed"),
      });
      this.keySets.set(cacheKey, keySet);
    }
    return keySet;
  }
}
