// `astro-hoist migrate <file…>`: moves a component's top-level frontmatter `await`s into an
// exported loader, where the native core proves it safe (crates/core/src/awaits.rs says what
// that takes). A preview (a unified diff) by default; `--write` writes the files.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTwoFilesPatch } from 'diff';

/**
 * @typedef {import('../index.js').FrontmatterAwait} FrontmatterAwait
 * @typedef {{ file: string, relative: string, code: string | null, awaits: FrontmatterAwait[], patch: string }} FileMigration
 */

/**
 * What `migrate` makes of one file: the new code (null when nothing moves), every top-level
 * await with why it stays, and the change as a unified diff.
 * @param {string} file absolute path of an `.astro` file
 * @param {string} cwd paths in the output are relative to it
 * @returns {Promise<FileMigration>}
 * @throws {Error} when the file cannot be read or is not an `.astro` component
 */
export async function migrateFile(file, cwd) {
  if (!file.endsWith('.astro')) throw new Error(`${path.relative(cwd, file) || file} is not an .astro component`);
  const source = readFileSync(file, 'utf8');
  const { migrateComponent } = await import('../index.js');
  const { code, awaits } = migrateComponent(source, file);
  const relative = path.relative(cwd, file).split(path.sep).join('/');
  const patch = code == null ? '' : createTwoFilesPatch(`a/${relative}`, `b/${relative}`, source, code, '', '', { context: 3 });
  return { file, relative, code: code ?? null, awaits, patch };
}

/**
 * The text `migrate` prints for one file: each await (moved, or why it stays), then the diff.
 * @param {FileMigration} m
 * @param {{ write: boolean }} options
 * @returns {string}
 */
export function formatMigration(m, { write }) {
  const out = [];
  if (m.awaits.length === 0) {
    out.push(`${m.relative}: no top-level await in the frontmatter`);
  } else {
    for (const a of m.awaits) {
      const where = `${m.relative}:${a.span.line}:${a.span.column}`;
      out.push(a.movable ? `${where}  moves into the loader: await ${a.text}` : `${where}  stays: await ${a.text}\n    ${a.reason}`);
    }
  }
  if (m.code != null) out.push(write ? `wrote ${m.relative}` : m.patch.trimEnd());
  return `${out.join('\n')}\n`;
}

/**
 * Migrates files, writing them when asked.
 * @param {string[]} files as given
 * @param {{ cwd: string, write: boolean }} options
 * @returns {Promise<FileMigration[]>}
 */
export async function migrateFiles(files, { cwd, write }) {
  /** @type {FileMigration[]} */
  const results = [];
  for (const f of files) results.push(await migrateFile(path.resolve(cwd, f), cwd));
  if (write) for (const m of results) if (m.code != null) writeFileSync(m.file, m.code);
  return results;
}
