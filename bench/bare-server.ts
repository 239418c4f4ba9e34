/**
 * The baselines of `npm run bench`: Apollo on Fastify with nothing else in the way, one mode per
 * process (BARE_MODE):
 *
 * - `constant` (default): `{ ping }` answers a constant.
 * - `sign`: `mintJoinToken(input)` only signs what Admit's mintJoinToken signs (header alg, kid,
 *   typ; claims usr, evt, iss, aud, sub, jti, iat, exp) with fast-jwt, Ed25519 through a
 *   node:crypto key, the signer made once. BARE_ISSUER and BARE_KID make the tokens as long as
 *   Admit's.
 * - `verify`: `validateToken(token)` only verifies the join token it is given with fast-jwt
 *   (no verification cache), with the checks Admit makes of a join token's signature and
 *   registered claims: algorithm, typ, issuer, audience, 30 s of clock skew. BARE_VERIFY_JWK is
 *   the public JWK, BARE_ISSUER the issuer.
 *
 * The sign and verify modes take the same GraphQL documents as Admit, so the load generator sends
 * the same bodies to both.
 */
import { createPublicKey, generateKeyPairSync, randomUUID } from "node:crypto";
import Fastify from "fastify";
import { ApolloServer } from "@apollo/server";
import fastifyApollo, { fastifyApolloDrainPlugin } from "@as-integrations/fastify";
import { createSigner, createVerifier } from "fast-jwt";

/** Admit's join tokens: their typ and audience (src/auth/tokens.ts), and the default lifetime. */
const JOIN_TYP = "join+jwt";
const JOIN_AUDIENCE = "admit:join";
const JOIN_TTL_MS = 3_600_000;

interface Baseline {
  typeDefs: string;
  resolvers: Record<string, Record<string, (parent: unknown, args: any) => unknown>>;
}

function constant(): Baseline {
  return {
    typeDefs: "type Query { ping: String! } type Mutation { ping: String! }",
    resolvers: { Query: { ping: () => "pong" }, Mutation: { ping: () => "pong" } },
  };
}

function signing(): Baseline {
  const { privateKey } = generateKeyPairSync("ed25519");
  const sign = createSigner({
    key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    algorithm: "EdDSA",
    kid: process.env.BARE_KID ?? "bench-key",
    header: { alg: "EdDSA", typ: JOIN_TYP },
    iss: process.env.BARE_ISSUER ?? "http://127.0.0.1/c/bench",
    aud: JOIN_AUDIENCE,
    expiresIn: JOIN_TTL_MS,
  });
  return {
    typeDefs: `
      input TokenUserInput { id: String! name: String }
      input MintJoinTokenInput { eventId: ID user: TokenUserInput! }
      type JoinToken { token: String! }
      type Query { ping: String! }
      type Mutation { mintJoinToken(input: MintJoinTokenInput!): JoinToken! }`,
    resolvers: {
      Query: { ping: () => "pong" },
      Mutation: {
        mintJoinToken: (_parent, { input }: { input: { eventId?: string; user: { id: string; name?: string } } }) => {
          const claims: Record<string, unknown> = {
            usr: input.user.name ? { name: input.user.name } : {},
            sub: input.user.id,
            jti: randomUUID(),
          };
          if (input.eventId) claims.evt = input.eventId;
          return { token: sign(claims) };
        },
      },
    },
  };
}

function verifying(): Baseline {
  const jwk = process.env.BARE_VERIFY_JWK;
  if (!jwk) throw new Error("BARE_MODE=verify needs BARE_VERIFY_JWK (the public JWK of the tokens it is sent).");
  const verify = createVerifier({
    key: createPublicKey({ key: JSON.parse(jwk), format: "jwk" })
      .export({ type: "spki", format: "pem" })
      .toString(),
    algorithms: ["EdDSA"],
    checkTyp: JOIN_TYP,
    allowedIss: process.env.BARE_ISSUER ?? "http://127.0.0.1/c/bench",
    allowedAud: JOIN_AUDIENCE,
    clockTolerance: 30_000,
    cache: false,
  });
  return {
    typeDefs: `
      type TokenValidation { valid: Boolean! }
      type Query { validateToken(token: String!): TokenValidation! }`,
    resolvers: {
      Query: {
        validateToken: (_parent, { token }: { token: string }) => {
          try {
            verify(token);
            return { valid: true };
          } catch {
            return { valid: false };
          }
        },
      },
    },
  };
}

const MODES: Record<string, () => Baseline> = { constant, sign: signing, verify: verifying };

async function main(): Promise<void> {
  const mode = process.env.BARE_MODE ?? "constant";
  const make = MODES[mode];
  if (!make) throw new Error(`BARE_MODE must be one of ${Object.keys(MODES).join(", ")}.`);
  const fastify = Fastify();
  const apollo = new ApolloServer({ ...make(), plugins: [fastifyApolloDrainPlugin(fastify)] });
  await apollo.start();
  await fastify.register(fastifyApollo(apollo));
  await fastify.listen({ port: Number(process.env.PORT ?? 4901), host: "127.0.0.1" });
  process.stdout.write("ready\n");
  process.on("SIGTERM", () => void apollo.stop().then(() => process.exit(0)));
}

main().catch((error) => {
  process.stderr.write(`bare server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
