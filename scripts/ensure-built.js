#!/usr/bin/env node
// Makes a fresh clone usable: installs the npm dependencies when node_modules is missing or
// older than package-lock.json, and builds the native addon when it is missing or its Rust
// sources changed since the last build. Both `npm test` and `npm run demo` start here, so
// neither needs a manual step. `--release` builds with the release (LTO) profile instead of
// the fast inner-loop profile.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const release = process.argv.includes('--release');
const profile = release ? 'release' : 'fast';
const binary = 'astro-hoist.linux-x64-gnu.node';

/** @param {string} cmd @param {string[]} args */
function run(cmd, args) {
  console.error(`$ ${cmd} ${args.join(' ')}`);
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`astro-hoist: \`${cmd} ${args.join(' ')}\` failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

/** Hash of every input of a build step, so a stamp tells whether it is stale. */
function fingerprint(/** @type {string[]} */ files) {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(file);
    hash.update(existsSync(join(root, file)) ? readFileSync(join(root, file)) : '');
  }
  return hash.digest('hex');
}

/** @param {string} dir @returns {string[]} */
function listFiles(dir) {
  return readdirSync(join(root, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

const installStamp = join(root, 'node_modules', '.astro-hoist-install');
const installPrint = fingerprint(['package.json', 'package-lock.json']);
if (!existsSync(installStamp) || readFileSync(installStamp, 'utf8') !== installPrint) {
  // `npm install` follows the committed lock like `npm ci` would, but does not refuse a lock
  // that lists no entries for other platforms' optional packages (the registry mirror this
  // project is built against does not serve all of them, so npm leaves them out).
  run('npm', ['install', '--no-audit', '--no-fund']);
  writeFileSync(installStamp, installPrint);
}

// One stamp for the one .node file: it names the profile it was built with, so switching
// between the fast and the release profile rebuilds.
const buildStamp = join(root, 'target', '.astro-hoist-build');
const buildPrint = `${profile}:${fingerprint(['Cargo.toml', 'Cargo.lock', 'build.rs', ...listFiles('src')])}`;
const built = join(root, binary);
if (!existsSync(built) || !existsSync(buildStamp) || readFileSync(buildStamp, 'utf8') !== buildPrint) {
  const args = ['napi', 'build', '--platform', '--esm'];
  args.push(...(release ? ['--release'] : ['--profile', 'fast']));
  run('npx', ['--no-install', ...args]);
  writeFileSync(buildStamp, buildPrint);
}

// The per-platform package carries the binary, as it does when published.
const platformCopy = join(root, 'npm', 'linux-x64-gnu', binary);
if (!existsSync(platformCopy) || statSync(platformCopy).mtimeMs < statSync(built).mtimeMs) {
  copyFileSync(built, platformCopy);
}
