// A real, large third-party site built with and without astro-hoist, on Astro 7: Starlight
// (routes injected from node_modules, components reached through Vite virtual modules, Expressive
// Code, Pagefind, sitemap) rendering the npm CLI's documentation, 91 Markdown pages taken from the
// `npm` package of the e2e environment. Adding `hoist()` to a working site must change nothing:
// `dist/` is compared byte for byte. The waterfall finder reads Starlight's own awaits.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, build, envDir, installPackedAddon, nodeBinary, packAddon, plainVariant, prepareFixture, stopAll } from '../../harness/harness.js';

const SETUP_TIMEOUT_MS = 15 * 60_000;
const ENV = 'astro7';

/**
 * Every file under `dir`, relative path -> bytes.
 * @param {string} dir
 * @returns {Map<string, Buffer>}
 */
function tree(dir) {
  /** @type {Map<string, Buffer>} */
  const files = new Map();
  /** @param {string} at */
  const walk = (at) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const file = path.join(at, entry.name);
      if (entry.isDirectory()) walk(file);
      else files.set(path.relative(dir, file), fs.readFileSync(file));
    }
  };
  walk(dir);
  return files;
}

/**
 * The npm CLI's documentation as fixture files: `src/content/docs/<section>/<page>.md`.
 * @returns {Record<string, string>}
 */
function npmDocs() {
  const content = path.join(envDir(ENV), 'node_modules', 'npm', 'docs', 'content');
  /** @type {Record<string, string>} */
  const files = {};
  for (const section of ['commands', 'configuring-npm', 'using-npm']) {
    for (const name of fs.readdirSync(path.join(content, section))) {
      if (name.endsWith('.md')) files[`src/content/docs/${section}/${name}`] = fs.readFileSync(path.join(content, section, name), 'utf8');
    }
  }
  return files;
}

after(stopAll);

describe(`a real site (${ENV}): Starlight with the npm CLI docs`, () => {
  /** @type {string} */
  let hoisted;
  /** @type {string} */
  let plain;

  before(async () => {
    await installPackedAddon(ENV, await packAddon({ destination: path.join(REPO_ROOT, '.e2e', 'packs-sites') }));
    const docs = npmDocs();
    hoisted = await prepareFixture(ENV, 'starlight-docs', { files: docs });
    plain = await prepareFixture(ENV, 'starlight-docs', { as: 'starlight-docs-plain', files: { ...docs, ...plainVariant('starlight-docs') } });
    await build(hoisted);
    await build(plain);
  }, { timeout: SETUP_TIMEOUT_MS });

  test('dist/ is byte for byte the same with and without hoist()', () => {
    const [a, b] = [tree(path.join(hoisted, 'dist')), tree(path.join(plain, 'dist'))];
    const pages = [...a.keys()].filter((file) => file.endsWith('.html'));
    assert.ok(pages.length >= 90, `${pages.length} pages built`);
    assert.deepEqual([...a.keys()], [...b.keys()], 'the same files');
    for (const [file, bytes] of a) assert.ok(bytes.equals(/** @type {Buffer} */ (b.get(file))), `${file} differs`);
  });

  test('the waterfall finder reports the chain of awaits Starlight renders each docs page through, and why none can move', () => {
    const cli = path.join(envDir(ENV), 'node_modules', 'astro-hoist', 'js', 'cli.js');
    const child = spawnSync(nodeBinary(ENV), [cli, 'analyze', plain, '--json'], { cwd: plain, encoding: 'utf8', timeout: 180_000, env: { ...process.env, ASTRO_TELEMETRY_DISABLED: '1' } });
    assert.equal(child.status, 0, child.stderr);
    const route = JSON.parse(child.stdout).routes.find((/** @type {any} */ r) => r.pattern === '/[...slug]');
    const plan = route.plan;
    const common = plan.awaits.filter((/** @type {any} */ a) => a.component.endsWith('@astrojs/starlight/dist/routes/common.astro'));
    assert.deepEqual(common.map((/** @type {any} */ a) => a.step), [1, 2, 3], JSON.stringify(plan.awaits));
    assert.match(common[0].text, /^getRoute\(Astro\)$/);
    assert.ok(common.every((/** @type {any} */ a) => !a.movable && a.reason), 'each says why it stays');
    assert.match(common[0].reason, /uses `Astro` as a whole/);
    assert.ok(plan.awaitDepth >= 3);
    assert.equal(plan.awaitDepthAfter, plan.awaitDepth, 'nothing to migrate');
  });
});
