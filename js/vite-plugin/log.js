// What the plugin tells the user: the core's diagnostics as Vite errors and warnings, and why a
// loader is not hoisted, each once per file and cause (never per request).

/**
 * @typedef {import('../../index.js').Diagnostic} Diagnostic
 * @typedef {import('../codegen.js').CodegenWarning} CodegenWarning
 * @typedef {{ warn(message: string): void, info(message: string): void, debug(message: string): void }} Logger
 * @typedef {{ file?: string, line: number, column: number }} Loc
 * @typedef {{ message: string, loc?: Loc, frame?: string, code?: string, id?: string }} Log
 * @typedef {object} LogContext
 * @property {(error: Log | Error | string) => never} error
 * @property {(warning: Log | string) => void} warn
 */

/**
 * Remembers what was said, so each message is said once per file (forgotten when the file changes).
 */
export class Said {
  constructor() {
    /** @type {Map<string, Set<string>>} */
    this.byFile = new Map();
  }

  /**
   * @param {string} file
   * @param {string} key
   * @returns {boolean} true the first time `key` is seen for `file`
   */
  first(file, key) {
    let set = this.byFile.get(file);
    if (!set) this.byFile.set(file, (set = new Set()));
    if (set.has(key)) return false;
    set.add(key);
    return true;
  }

  /** @param {string} file */
  forget(file) {
    this.byFile.delete(file);
  }
}

/**
 * How loud a note of a plan is: a loader that will run at render instead of early (a warning in
 * the core), or a loader cycle, is worth a warning; one that starts with its conditional
 * ancestor's render, or that nothing reads in a file that does not use astro-hoist, an info line;
 * the rest (local components, virtual modules, Vite's own unresolved imports) is routine: debug.
 * @param {Diagnostic} note
 * @returns {'warn' | 'info' | 'debug'}
 */
export function noteLevel(note) {
  if (note.severity === 'error' || note.severity === 'warning') return 'warn';
  if (note.code === 'loader-conditional' || note.code === 'loader-unused' || note.code === 'mdx-content') return 'info';
  return 'debug';
}

/**
 * Report a plan's notes (what is not hoisted and why, what the walk could not follow), once per
 * file and message.
 * @param {LogContext} ctx
 * @param {Logger | undefined} logger
 * @param {Diagnostic[]} notes their `file` root-relative
 * @param {Said} said
 * @param {string} [root] to key `said` by absolute path, as file changes are known
 */
export function reportNotes(ctx, logger, notes, said, root) {
  for (const note of notes) {
    // A virtual module's id starts with \0, which a terminal would not show.
    const shown = note.file.replace(/^\0/, '');
    const where = note.line ? `${shown}:${note.line}:${note.column}` : shown;
    const message = `${where}: ${note.message}`;
    const file = root && !note.file.startsWith('/') ? `${root}/${note.file}` : note.file;
    if (!said.first(file, `${note.code}\0${message}`)) continue;
    const level = noteLevel(note);
    if (logger) logger[level](message);
    else if (level === 'warn') ctx.warn(message);
  }
}

/**
 * Map the core's error diagnostics to `this.error` and its warnings to `this.warn`; `info` ones go
 * to the debug log. Vite/Rollup `loc.column` is 0-based; the core's columns are 1-based.
 * @param {LogContext} ctx
 * @param {string} id
 * @param {Diagnostic[]} diagnostics
 * @param {Said} said
 * @param {Logger} [logger]
 */
export function reportDiagnostics(ctx, id, diagnostics, said, logger) {
  const error = diagnostics.find((d) => d.severity === 'error');
  if (error) {
    ctx.error(
      logError({
        message: `${error.message}`,
        code: error.code,
        id,
        loc: { file: id, line: error.line, column: Math.max(0, error.column - 1) },
        frame: error.frame,
      }),
    );
  }
  for (const d of diagnostics) {
    if (d.severity === 'error') continue;
    if (!said.first(id, `diag\0${d.code}\0${d.line}:${d.column}\0${d.message}`)) continue;
    if (d.severity === 'info') {
      logger?.debug(`${id}:${d.line}:${d.column}: ${d.message} [${d.code}]`);
      continue;
    }
    ctx.warn({
      message: d.message,
      code: d.code,
      id,
      loc: { file: id, line: d.line, column: Math.max(0, d.column - 1) },
      frame: d.frame,
    });
  }
}

/**
 * @param {LogContext} ctx
 * @param {string} id
 * @param {CodegenWarning[]} warnings
 * @param {Said} said
 */
export function reportWarnings(ctx, id, warnings, said) {
  for (const w of warnings) {
    if (!said.first(id, `codegen\0${w.line}:${w.column}\0${w.message}`)) continue;
    ctx.warn({ message: w.message, id, loc: { file: id, line: w.line, column: Math.max(0, w.column - 1) } });
  }
}

/**
 * A Vite log as an Error. Vite's dev server throws `this.error()`'s argument as it is, and Astro's
 * dev error page, overlay and log need a real Error (name, stack) to show it at all: given a plain
 * object, the page's title reads "undefined", the overlay stays empty and the log has no location.
 * @param {Log} log
 * @returns {Error & Log}
 */
export function logError(log) {
  return Object.assign(new Error(log.message), log);
}

/**
 * A native error (message `file:line:column ...`, `loc` 1-based columns, `frame`) as a Vite log.
 * @param {unknown} error
 * @param {string} id
 * @returns {Log}
 */
export function toLog(error, id) {
  if (!(error instanceof Error)) return { message: String(error), id };
  const native = /** @type {Error & { code?: string, loc?: Loc, frame?: string }} */ (error);
  /** @type {Log} */
  const log = { message: native.message, id };
  if (typeof native.code === 'string') log.code = native.code;
  if (native.loc && typeof native.loc.line === 'number') {
    log.loc = { file: native.loc.file ?? id, line: native.loc.line, column: Math.max(0, native.loc.column - 1) };
  }
  if (typeof native.frame === 'string') log.frame = native.frame;
  return log;
}
