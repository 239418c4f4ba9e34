import Fastify from "fastify";
import { ApolloServer } from "@apollo/server";
import fastifyApollo, { fastifyApolloDrainPlugin } from "@as-integrations/fastify";

/** The baseline: Apollo on Fastify answering a constant, with nothing else in the way. */
async function main(): Promise<void> {
  const fastify = Fastify();
  const apollo = new ApolloServer({
    typeDefs: "type Query { ping: String! } type Mutation { ping: String! }",
    resolvers: { Query: { ping: () => "pong" }, Mutation: { ping: () => "pong" } },
    plugins: [fastifyApolloDrainPlugin(fastify)],
  });
  await apollo.start();
  await fastify.register(fastifyApollo(apollo));
  await fastify.listen({ port: Number(process.env.PORT ?? 4901), host: "127.0.0.1" });
  process.stdout.write("ready\n");
  process.on("SIGTERM", () => void apollo.stop().then(() => process.exit(0)));
}

void main();
