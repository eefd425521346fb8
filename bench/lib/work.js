// The bench work folder (.e2e/bench/, gitignored): bench-only npm packages, the .astro corpus,
// criterion's output. Nothing here touches the root package.json or its lock.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../harness/child-process.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WORK_DIR = path.join(REPO_ROOT, '.e2e', 'bench');
const DEPS_MANIFEST = fileURLToPath(new URL('../deps/package.json', import.meta.url));
const STAMP = path.join(WORK_DIR, 'node_modules', '.bench-deps-stamp');

/**
 * Installs bench/deps/package.json into .e2e/bench/ unless already installed. Peer dependencies
 * are not installed (`--legacy-peer-deps`): the packages are only read (the corpus) or run
 * inside the Astro 7 environment, whose Astro they use.
 * @returns {Promise<{ installed: boolean, ms: number }>}
 */
export async function installBenchDeps() {
  const manifest = fs.readFileSync(DEPS_MANIFEST);
  const print = createHash('sha256').update(manifest).digest('hex');
  if (fs.existsSync(STAMP) && fs.readFileSync(STAMP, 'utf8') === print) return { installed: false, ms: 0 };
  fs.mkdirSync(WORK_DIR, { recursive: true });
  fs.writeFileSync(path.join(WORK_DIR, 'package.json'), manifest);
  fs.rmSync(path.join(WORK_DIR, 'package-lock.json'), { force: true });
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, npm_config_update_notifier: 'false' };
  delete env.NODE_TEST_CONTEXT;
  const { ms } = await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--no-package-lock', '--legacy-peer-deps', '--engine-strict=false'],
    { cwd: WORK_DIR, env, label: 'npm install in .e2e/bench', timeoutMs: 10 * 60_000 },
  );
  fs.writeFileSync(STAMP, print);
  return { installed: true, ms };
}

/**
 * Version of a package installed in the bench work folder (or the repository root).
 * @param {string} name
 * @param {'bench' | 'root'} [where]
 */
export function installedVersion(name, where = 'bench') {
  const base = where === 'bench' ? WORK_DIR : REPO_ROOT;
  try {
    return JSON.parse(fs.readFileSync(path.join(base, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

/** The packages whose shipped `.astro` files make up the corpus, and where they are installed. */
export const CORPUS_PACKAGES = [
  { name: '@astrojs/starlight', where: /** @type {const} */ ('root') },
  { name: 'starlight-openapi', where: /** @type {const} */ ('bench') },
  { name: 'accessible-astro-components', where: /** @type {const} */ ('bench') },
];

/** @param {string} dir @returns {string[]} */
function astroFiles(dir) {
  /** @type {string[]} */
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules') found.push(...astroFiles(full));
    else if (entry.isFile() && entry.name.endsWith('.astro')) found.push(full);
  }
  return found.sort();
}

/**
 * Copies every `.astro` file the corpus packages ship into .e2e/bench/corpus/<package>/ (same
 * relative paths; files with identical content once), so that analyses, scans and the criterion
 * bench all read the same files from a folder outside node_modules.
 * @returns {{ dir: string, files: number, bytes: number, packages: { name: string, version: string, files: number }[] }}
 */
export function collectCorpus() {
  const dir = path.join(WORK_DIR, 'corpus');
  fs.rmSync(dir, { recursive: true, force: true });
  const seen = new Set();
  let bytes = 0;
  const packages = [];
  for (const { name, where } of CORPUS_PACKAGES) {
    const pkgDir = path.join(where === 'bench' ? WORK_DIR : REPO_ROOT, 'node_modules', name);
    if (!fs.existsSync(pkgDir)) throw new Error(`corpus package ${name} is not installed in ${pkgDir}`);
    let count = 0;
    for (const file of astroFiles(pkgDir)) {
      const content = fs.readFileSync(file);
      const hash = createHash('sha256').update(content).digest('hex');
      if (seen.has(hash)) continue;
      seen.add(hash);
      const target = path.join(dir, name, path.relative(pkgDir, file));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, content);
      bytes += content.length;
      count++;
    }
    packages.push({ name, version: installedVersion(name, where), files: count });
  }
  return { dir, files: seen.size, bytes, packages };
}

const TRIPLE = 'x86_64-unknown-linux-gnu';
const BINARY = 'astro-hoist.linux-x64-gnu.node';

/**
 * The release build of the addon, copied to .e2e/bench/platform-package/ together with the
 * platform package's package.json. The bench measures this copy, never the repository's
 * `astro-hoist.linux-x64-gnu.node`: `npm test` rebuilds that one with the fast profile whenever
 * src/ changes, possibly in the middle of a bench run by another session.
 * @returns {{ binary: string, packageDir: string, builtAt: Date, olderThanSources: boolean }}
 */
export function stageReleaseAddon() {
  const built = path.join(REPO_ROOT, 'target', TRIPLE, 'release', 'libastro_hoist.so');
  if (!fs.existsSync(built)) {
    throw new Error(`${built} does not exist: build the release addon first (\`npm run bench\` does, or \`npm run build\`)`);
  }
  const packageDir = path.join(WORK_DIR, 'platform-package');
  fs.rmSync(packageDir, { recursive: true, force: true });
  fs.mkdirSync(packageDir, { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, 'npm', 'linux-x64-gnu', 'package.json'), path.join(packageDir, 'package.json'));
  const binary = path.join(packageDir, BINARY);
  fs.copyFileSync(built, binary);
  const builtAt = fs.statSync(built).mtime;
  const newestSource = Math.max(
    ...['Cargo.toml', 'build.rs', ...fs.readdirSync(path.join(REPO_ROOT, 'src')).map((file) => path.join('src', file))].map(
      (file) => fs.statSync(path.join(REPO_ROOT, file)).mtimeMs,
    ),
  );
  return { binary, packageDir, builtAt, olderThanSources: newestSource > builtAt.getTime() };
}

/**
 * `npm pack` of the JS package (the repository root) and of the staged platform package, for
 * the harness's `installPackedAddon`.
 * @param {string} packageDir from stageReleaseAddon
 * @returns {Promise<string[]>} tarball paths, the root package first
 */
export async function packStagedAddon(packageDir) {
  const destination = path.join(WORK_DIR, 'packs');
  fs.rmSync(destination, { recursive: true, force: true });
  fs.mkdirSync(destination, { recursive: true });
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, npm_config_update_notifier: 'false' };
  delete env.NODE_TEST_CONTEXT;
  /** @type {string[]} */
  const tarballs = [];
  for (const cwd of [REPO_ROOT, packageDir]) {
    const { output } = await run('npm', ['pack', '--json', '--pack-destination', destination], {
      cwd,
      env,
      label: `npm pack in ${cwd}`,
      timeoutMs: 5 * 60_000,
    });
    // Lifecycle scripts may print before the JSON array.
    const json = output.slice(output.indexOf('[\n'), output.lastIndexOf(']') + 1);
    const filename = JSON.parse(json)[0]?.filename;
    if (typeof filename !== 'string') throw new Error(`npm pack in ${cwd}: no tarball name in its output:\n${output.slice(-1000)}`);
    tarballs.push(path.join(destination, filename));
  }
  return tarballs;
}
