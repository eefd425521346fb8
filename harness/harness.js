// End-to-end harness: real Astro mini-projects built and served on loopback, in two environments
// (Astro 7 on the Node 22 binary from the `node` package, Astro 5 on the runner's Node 20).
//
//   const api = await startLatencyApi({ delayMs: 50 });
//   const root = await prepareFixture('astro7', 'plain-nested');
//   await build(root);
//   const server = await serve(root, { env: { HOIST_API: api.url } });
//   const html = await fetchText(`${server.url}/nested`);
//   ...
//   await server.stop(); await api.stop();       // or stopAll() in an `after` hook
//
// See README.md next to this file.
export { ENVIRONMENTS, REPO_ROOT, ensureEnv, envDir, installPackedAddon, nodeBinary, packAddon } from './environment.js';
export { FIXTURES_DIR, build, dev, envOf, freePort, prepareFixture, runAstro, serve, serveStatic } from './astro-project.js';
export { fetchResponse, fetchText, minRequestTime, streamTimes, timeRequest } from './http-client.js';
export { startLatencyApi } from './latency-api.js';
export { inlineLoaders, plainVariant } from './plain-variant.js';
export { stopAll } from './child-process.js';
export { CHROMIUM_ARGS, ensureChromium } from './browser.js';

/** @typedef {import('./environment.js').EnvName} EnvName */
/** @typedef {import('./environment.js').EnvInfo} EnvInfo */
/** @typedef {import('./astro-project.js').RunningServer} RunningServer */
/** @typedef {import('./latency-api.js').LatencyApi} LatencyApi */
/** @typedef {import('./http-client.js').FetchedResponse} FetchedResponse */
export { ensureRedisServer, redisCli, startRedis } from './redis.js';
