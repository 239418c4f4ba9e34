import { idClaim, isClaimObject, jtiClaim, malformedClaim, MAX_JTI, stringClaim } from "../../auth/external-claims";
import { tokenInvalid } from "../../auth/external-tokens";
import { isStorable } from "../../db/storable";
import type { Role } from "../../graphql/enums";
import * as v from "../../graphql/validate";
import {
  profileOf,
  type ExternalSubject,
  type ValidatedProfile,
} from "../identity-provider/external-credential.service";
import { normalizeGrant } from "../session/role";
import { MAX_TOKEN_METADATA_CHARS } from "../token/token.service";

/** The claims only partner JWTs carry: who joins, the role granted, the session's metadata, tickets. */

/** `role`: ATTENDEE, PRESENTER or ORGANIZER (any case); admin and owner mean ORGANIZER. */
export function roleClaim(payload: Record<string, unknown>): Role | null {
  const role = payload.role;
  if (role === undefined || role === null) return null;
  const grant = typeof role === "string" ? normalizeGrant(role) : null;
  if (!grant)
    throw tokenInvalid(
      "The token's role claim must be ATTENDEE, PRESENTER or ORGANIZER (admin and owner mean ORGANIZER).",
    );
  return grant;
}

/** `metadata`: a JSON object of at most MAX_TOKEN_METADATA_CHARS serialized, carried into the session. */
export function metadataClaim(payload: Record<string, unknown>): Record<string, unknown> {
  const metadata = payload.metadata;
  if (metadata === undefined || metadata === null) return {};
  if (!isClaimObject(metadata) || !isStorable(metadata)) throw malformedClaim("metadata");
  if (JSON.stringify(metadata).length > MAX_TOKEN_METADATA_CHARS) {
    throw tokenInvalid(`The token's metadata claim must be at most ${MAX_TOKEN_METADATA_CHARS} characters serialized.`);
  }
  return metadata;
}

const PROFILE_KEYS = new Set(["id", "email", "name", "avatarUrl", "metadata"]);

/** The user a partner JWT names: `user` (just in time), else `sub`, else `id`, else `email`. */
export function partnerSubject(payload: Record<string, unknown>): ExternalSubject {
  const sub = idClaim(payload, "sub");
  if (payload.user !== undefined) {
    const user = payload.user;
    if (!isClaimObject(user)) throw malformedClaim("user");
    const id = idClaim(user, "id", "user.id");
    if (id !== undefined && sub !== undefined && id !== sub)
      throw tokenInvalid("The token's user.id and sub name different users.");
    const externalId = id ?? sub;
    if (externalId === undefined) throw tokenInvalid("The token's user claim needs an id (or the token a sub).");
    const field = (name: string): string | null | undefined => {
      const value = user[name];
      if (value === undefined || value === null) return value;
      if (typeof value !== "string") throw malformedClaim(`user.${name}`);
      return value;
    };
    const given = user.metadata;
    if (given !== undefined && given !== null && !isClaimObject(given)) throw malformedClaim("user.metadata");
    const extra = Object.fromEntries(Object.entries(user).filter(([key]) => !PROFILE_KEYS.has(key)));
    const metadata = given || Object.keys(extra).length > 0 ? { ...(given ?? {}), ...extra } : undefined;
    return {
      kind: "profile",
      profile: profileOf(
        { externalId, email: field("email"), name: field("name"), avatarUrl: field("avatarUrl"), metadata },
        "user.",
      ),
    };
  }
  if (sub !== undefined) {
    if (sub.trim() !== sub) throw malformedClaim("sub");
    return { kind: "externalId", externalId: sub };
  }
  // `{ id }` (a string or a whole number): an existing user; it wins over `email`.
  const id = idClaim(payload, "id");
  if (id !== undefined) {
    if (id.trim() !== id) throw malformedClaim("id");
    return { kind: "id", id };
  }
  const email = payload.email;
  if (email !== undefined) {
    if (typeof email !== "string" || !isStorable(email)) throw malformedClaim("email");
    try {
      return { kind: "email", normalized: v.normalizeEmail("email", email).normalized };
    } catch {
      throw malformedClaim("email");
    }
  }
  throw tokenInvalid("The token names no user: give user, sub, id or email.");
}

const TICKET_FROM = /^sip:\.([^.@\s]+)\.([^.@\s]+)\.@([^@\s]+)$/;
const TICKET_TO = /^sip:confctl-g-([^.@\s]+)\.([^@\s]+)@([^@\s]+)$/;

/**
 * A voice-SDK ticket (modelled on Vivox access tokens): the user of `f`, the channel of `t`.
 *
 * A backend that already signs Vivox-style join tickets signs the same payload with a partner
 * secret, and adds the header Admit needs (`alg: HS256`, `kid`: Vivox's header is `{}`):
 *
 * ```
 * { "iss": "<issuer>", "exp": …, "vxa": "join", "vxi": 933000,
 *   "f": "sip:.<issuer>.<userId>.@<domain>", "t": "sip:confctl-g-<issuer>.<channel>@<domain>" }
 * ```
 *
 * - `vxa` must be "join" (login, kick and mute tickets are TOKEN_INVALID).
 * - `f` is the user's SIP URI: the text between `.<issuer>.` and `.@` is the user's external id;
 *   the user is created just in time (with that id only) or found, like a `user` claim.
 * - `t` is the channel's SIP URI (non-positional `confctl-g-` channels): the channel name must be
 *   the joined event's slug, else TOKEN_WRONG_EVENT.
 * - `iss` is required, and must be the issuer inside both `f` and `t`; `f` and `t` must name the
 *   same domain (the domain is not otherwise checked).
 * - `vxi` (optional, a whole number) is the ticket's unique id: it becomes the jti
 *   (`vxi:<iss>:<vxi>`) unless a `jti` claim is given (with neither, the synthetic jti). `exp`,
 *   `nbf`, `iat`, `role` and `metadata` are read as for any partner JWT; `sub` is not read.
 */
export function ticketClaims(payload: Record<string, unknown>): {
  profile: ValidatedProfile;
  channel: string;
  jti: string | null;
} {
  if (payload.vxa !== "join") throw tokenInvalid('Only join tickets (vxa: "join") open an event.');
  const issuer = stringClaim(payload, "iss", 255);
  if (issuer === undefined) throw tokenInvalid("A ticket must carry iss.");
  const from = TICKET_FROM.exec(stringClaim(payload, "f", 1024) ?? "");
  if (!from || from[1] !== issuer) throw malformedClaim("f");
  const to = TICKET_TO.exec(stringClaim(payload, "t", 1024) ?? "");
  if (!to || to[1] !== issuer || to[3] !== from[3]) throw malformedClaim("t");
  const vxi = payload.vxi;
  if (vxi !== undefined && !(typeof vxi === "number" && Number.isSafeInteger(vxi) && vxi >= 0))
    throw malformedClaim("vxi");
  const jti = jtiClaim(payload) ?? (vxi === undefined ? null : `vxi:${issuer}:${vxi}`.slice(0, MAX_JTI));
  return { profile: profileOf({ externalId: from[2] }, "user."), channel: to[2], jti };
}
