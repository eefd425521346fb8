// The e2e latency API in a process of its own, for load tests: under autocannon the API must not
// share an event loop with the load generator. Prints `BENCH_API <url>` once listening; stops on
// SIGTERM. Call records are dropped every second (nobody reads them under load, and they would
// grow by thousands per second).
import { startLatencyApi } from '../harness/latency-api.js';

const delayMs = Number(process.argv[2] ?? 1);
const api = await startLatencyApi({ delayMs });
const forget = setInterval(() => api.reset(), 1_000);
process.stdout.write(`BENCH_API ${api.url}\n`);
process.once('SIGTERM', () => {
  clearInterval(forget);
  api.stop().then(() => process.exit(0));
});
