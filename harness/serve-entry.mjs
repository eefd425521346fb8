// Serves a built Astro project (output: 'server', @astrojs/node) on 127.0.0.1 with a port chosen by
// the OS. Spawned by the e2e harness with the environment's Node:
//   node serve-entry.mjs <root>/dist/server/entry.mjs
// ASTRO_NODE_AUTOSTART=disabled (set by the harness) keeps a standalone entry from starting its own
// server on import; the entry's `handler` is used instead: in standalone mode it also serves
// dist/client, in middleware mode it calls `next` for what it does not handle.
// Prints one line `ASTRO_HOIST_E2E_LISTENING {"port":N}` once listening. With
// HOIST_SHARED_LOCALS=1 every request gets one and the same `locals` object (middleware mode's
// `handler(req, res, next, locals)`), as some hosts do.
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const entry = process.argv[2];
if (!entry) {
  console.error('usage: serve-entry.mjs <dist/server/entry.mjs>');
  process.exit(2);
}
process.env.ASTRO_NODE_AUTOSTART = 'disabled';
const { handler } = await import(pathToFileURL(entry).href);
if (typeof handler !== 'function') {
  console.error(`${entry} exports no handler function: is the adapter @astrojs/node?`);
  process.exit(2);
}

const sharedLocals = process.env.HOIST_SHARED_LOCALS === '1' ? {} : undefined;
const server = http.createServer((req, res) => {
  handler(
    req,
    res,
    () => {
      res.statusCode = 404;
      res.end('not found (astro-hoist e2e server)');
    },
    sharedLocals,
  );
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`ASTRO_HOIST_E2E_LISTENING ${JSON.stringify({ port })}\n`);
});

const shutdown = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
