// The analyses the plugin works from, one per file and content.

import { readFile } from 'node:fs/promises';

/**
 * @typedef {import('../../index.js').ComponentInfo} ComponentInfo
 * @typedef {(source: string, filename: string, options?: { root?: string }) => Promise<ComponentInfo>} AnalyzeComponent
 */

/**
 * Per-file analysis cache keyed by content: a file is re-analyzed only when its source differs
 * from the one analyzed last. Concurrent requests for the same content share one analysis. The
 * source is kept with the analysis: a component's loader module is cut from the very text its
 * spans were computed on.
 */
export class AnalysisCache {
  /**
   * @param {AnalyzeComponent} analyzeComponent
   * @param {string} root
   */
  constructor(analyzeComponent, root) {
    this.analyzeComponent = analyzeComponent;
    this.root = root;
    /** @type {Map<string, { source: string, info: Promise<ComponentInfo> }>} */
    this.entries = new Map();
    this.analyses = 0;
  }

  /**
   * @param {string} file
   * @param {string} source
   * @returns {Promise<ComponentInfo>}
   */
  analyze(file, source) {
    const cached = this.entries.get(file);
    if (cached && cached.source === source) return cached.info;
    this.analyses++;
    const info = Promise.resolve(this.analyzeComponent(source, file, { root: this.root }));
    const entry = { source, info };
    this.entries.set(file, entry);
    // A failed analysis is not cached: the next request retries.
    info.catch(() => {
      if (this.entries.get(file) === entry) this.entries.delete(file);
    });
    return info;
  }

  /**
   * The file's analysis and the source it was made from: the last one analyzed, or the file on disk.
   * @param {string} file
   * @returns {Promise<{ source: string, info: ComponentInfo }>}
   */
  async current(file) {
    const cached = this.entries.get(file);
    const source = cached ? cached.source : await readFile(file, 'utf8');
    return { source, info: await this.analyze(file, source) };
  }

  /**
   * @param {string} file
   * @returns {Promise<ComponentInfo>}
   */
  async analyzeFile(file) {
    return (await this.current(file)).info;
  }

  /** @param {string} file */
  invalidate(file) {
    this.entries.delete(file);
  }
}
