// ws ships no type declarations and @types/ws is not a dependency: the server (src/http/live.routes.ts)
// and the test client (bench/live-client.ts) each type the few members they use.
declare module "ws";
