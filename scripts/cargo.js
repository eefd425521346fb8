#!/usr/bin/env node
// Runs cargo with `--target <this host's triple>`: `napi build` always passes one, so its
// artifacts live in target/<triple>/<profile>, and `cargo test` or `clippy` reuse them only with
// the same flag. The triple comes from `rustc -vV`, never hard-coded: the addon builds from
// source on any host napi-rs supports.
//   node scripts/cargo.js test --profile fast -p astro-hoist-core
import { spawnSync } from 'node:child_process';

const rustc = spawnSync('rustc', ['-vV'], { encoding: 'utf8' });
const host = rustc.stdout?.match(/^host: (\S+)$/m)?.[1];
if (!host) {
  console.error(`astro-hoist: cannot read the host triple from \`rustc -vV\`${rustc.error ? ` (${rustc.error.message})` : ''}`);
  process.exit(1);
}
const args = process.argv.slice(2);
// Flags after `--` go to the tool cargo runs (clippy's lints, the test binary): --target before.
const split = args.indexOf('--');
const own = split >= 0 ? args.slice(0, split) : args;
const rest = split >= 0 ? args.slice(split) : [];
const result = spawnSync('cargo', [...own, '--target', host, ...rest], { stdio: 'inherit' });
process.exit(result.status ?? 1);
