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
  // A fresh clone installs exactly the committed lock; an existing install is brought up to a
  // changed one (`npm install` leaves a complete lock as it is).
  run('npm', [existsSync(join(root, 'node_modules')) ? 'install' : 'ci', '--no-audit', '--no-fund']);
  writeFileSync(installStamp, installPrint);
}

// One stamp for the one .node file: it names the profile it was built with, so switching
// between the fast and the release profile rebuilds.
const buildStamp = join(root, 'target', '.astro-hoist-build');
const sources = ['Cargo.toml', 'Cargo.lock', 'build.rs', 'crates/core/Cargo.toml', ...listFiles('src'), ...listFiles('crates/core/src')];
const buildPrint = `${profile}:${fingerprint(sources)}`;
/** The addon `napi build --platform` wrote for this host: `astro-hoist.<platform>.node`. */
const builtAddon = () =>
  readdirSync(root)
    .filter((name) => /^astro-hoist\..+\.node$/.test(name))
    .map((name) => ({ name, mtime: statSync(join(root, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime)[0]?.name;
if (!builtAddon() || !existsSync(buildStamp) || readFileSync(buildStamp, 'utf8') !== buildPrint) {
  // --no-const-enum: string enums become TypeScript unions ('error' | 'warning' | 'info').
  const args = ['napi', 'build', '--platform', '--esm', '--no-const-enum'];
  args.push(...(release ? ['--release'] : ['--profile', 'fast']));
  run('npx', ['--no-install', ...args]);
  writeFileSync(buildStamp, buildPrint);
}

// The per-platform package carries the binary, as it does when published (npm/<platform>/,
// made by `napi create-npm-dirs` for the targets package.json lists).
const binary = builtAddon();
const platform = binary?.slice('astro-hoist.'.length, -'.node'.length);
const platformCopy = platform && join(root, 'npm', platform, /** @type {string} */ (binary));
if (binary && platformCopy && existsSync(join(root, 'npm', platform))) {
  if (!existsSync(platformCopy) || statSync(platformCopy).mtimeMs < statSync(join(root, binary)).mtimeMs) {
    copyFileSync(join(root, binary), platformCopy);
  }
}
