// Headless Chromium for browser checks: Debian's `chromium`, installed with apt-get when missing
// (CI runs as root on a fresh machine); Playwright's own browser download is not used.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a quiet headless run in a container. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

/**
 * The Debian chromium binary, installed with apt when missing. A reason to skip when it cannot
 * be had (no apt-get, not root).
 * @returns {{ path: string } | { skip: string }}
 */
export function ensureChromium() {
  if (existsSync(CHROMIUM)) return { path: CHROMIUM };
  const apt = spawnSync('apt-get', ['--version']);
  if (apt.error) return { skip: `${CHROMIUM} is missing and apt-get is not available to install it` };
  if (process.getuid?.() !== 0) return { skip: `${CHROMIUM} is missing; installing it needs root (apt-get install chromium)` };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'chromium']]) {
    const step = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 15 * 60_000 });
    if (step.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${step.status ?? step.signal})`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is missing`);
  return { path: CHROMIUM };
}
