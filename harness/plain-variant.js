// The plain-Astro twin of a fixture: the same sources with astro-hoist removed and every loader
// inlined where its component reads it (`await getLoaderData()` becomes a call of the component's
// own `loader` with the context Astro gives that render). What plain Astro does with the same
// code, to compare HTML, CSS, chunks and timing against.
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES_DIR } from './astro-project.js';

/** The context a loader gets, built from the component's own `Astro` at render. */
const INLINE_CONTEXT =
  '{ params: Astro.params, url: Astro.url, request: Astro.request, locals: Astro.locals, props: Astro.props, signal: Astro.request.signal }';

/**
 * A source with its getLoaderData() calls inlined. The runtime import stays read (`(getLoaderData,
 * loader)(…)`) so the compiled module imports exactly what the hoisted one imports.
 * @param {string} source
 * @returns {string}
 */
export function inlineLoaders(source) {
  return source.replace(/\bgetLoaderData\s*(?:<[^>()]*>)?\s*\(\s*\)/g, `(getLoaderData, loader)(${INLINE_CONTEXT})`);
}

/**
 * `files` for prepareFixture: every `.astro` file of the fixture that reads a loader, inlined, and
 * the Astro config without the integration.
 * @param {string} name fixture folder name
 * @returns {Record<string, string>}
 */
export function plainVariant(name) {
  const root = path.join(FIXTURES_DIR, name);
  /** @type {Record<string, string>} */
  const files = {};
  /** @param {string} dir */
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'dist') walk(file);
      } else if (entry.name.endsWith('.astro')) {
        const source = fs.readFileSync(file, 'utf8');
        const inlined = inlineLoaders(source);
        if (inlined !== source) files[path.relative(root, file)] = inlined;
      }
    }
  };
  walk(path.join(root, 'src'));
  const config = fs.readFileSync(path.join(root, 'astro.config.mjs'), 'utf8');
  const plain = config
    .replace(/^import hoist from 'astro-hoist';\n/m, '')
    .replace(/hoist\((?:\{[^)]*\})?\),?\s*/g, '');
  if (plain === config) throw new Error(`${name}/astro.config.mjs: cannot remove hoist() from it`);
  files['astro.config.mjs'] = plain;
  return files;
}
