// astro-hoist/cache: the cross-request loader cache (see the README, "Caching loaders").

import type { LoaderContext } from './runtime.js';

/** The `cache` option of `defineLoader(loader, { cache })`. */
export interface LoaderCacheOptions<T = any> {
  /** Seconds a value is fresh: served from the cache without calling the loader. Default 0. */
  maxAge?: number;
  /**
   * Seconds after `maxAge` during which the stale value is still served while one call in the
   * background refreshes it. Default 0.
   */
  staleWhileRevalidate?: number;
  /** Tags of a value, for `invalidateLoaderCache({ tags })`. */
  tags?: (value: T) => string[];
  /**
   * What makes values differ, instead of the params, props and url the loader reads. Required
   * when the loader reads `request` or `locals` (per-visitor data): e.g. `(ctx) => ctx.locals.user.id`.
   */
  key?: (context: LoaderContext<any>) => string | number;
}

/** Where cached values live: `hoist({ cache })` in astro.config, or `configureLoaderCache`. */
export interface CacheConfig {
  /**
   * A store shared by every server: an unstorage `Storage` (`createStorage({ driver: redisDriver(...) })`).
   * Default: in this process's memory, bounded by `maxEntries` and `maxBytes`.
   */
  storage?: import('unstorage').Storage;
  /** Entries the in-memory store keeps at most (least recently used leave first). Default 1000. */
  maxEntries?: number;
  /** Bytes the in-memory store keeps at most. Default 64 MiB. */
  maxBytes?: number;
  /** A value larger than this (serialized) is not cached. Default 1 MiB. */
  maxEntryBytes?: number;
  /** Milliseconds a store read may take before the loader runs uncached. Default 50. */
  timeout?: number;
  /** Milliseconds the shared store is left alone after a fault. Default 5000. */
  retryAfter?: number;
  /** A namespace for the keys: change it when a deployment changes what loaders return. */
  version?: string;
}

/** How the cache answered a loader's run. */
export type CacheState = 'hit' | 'stale' | 'miss' | 'bypass';

/** Sets where cached values live, for this process (the integration does it from its options). */
export function configureLoaderCache(config?: CacheConfig): void;

/**
 * Drops the cached values of loaders that returned one of `tags`, on every server sharing the
 * store; with Astro 7's route cache on, also the routes whose entries carry those tags (inside a
 * request, the request's `context.cache` is found by itself; else pass `context`).
 */
export function invalidateLoaderCache(options: {
  tags: string | string[];
  context?: { cache?: { enabled?: boolean; invalidate?: (options: { tags: string[] }) => Promise<void> } };
}): Promise<void>;

/** @internal */
export function __withRequestContext<T>(context: object, fn: () => T): T;

/** @internal */
export const CACHE: unique symbol;
/** @internal */
export interface CacheSpec {
  maxAge: number;
  staleWhileRevalidate: number;
  tags: ((value: any) => unknown) | undefined;
  key: ((context: LoaderContext) => unknown) | undefined;
}
/** @internal */
export function cacheSpec(cache: unknown): CacheSpec;
/** @internal */
export function cachedCall(args: {
  loader: Function;
  spec: CacheSpec;
  context: LoaderContext;
  id: string | null;
  component: string;
  call: (signal: AbortSignal | undefined) => unknown;
  onState: (state: CacheState) => void;
  onTags?: (tags: string[]) => void;
}): Promise<unknown>;
/** @internal */
export function __cacheInfo(loader: Function, info: { id: string; reads: string[]; dev?: boolean }): void;
/** @internal */
export function __setStableKey(fn: (value: unknown) => string | null): void;
/** @internal The in-memory store's size. */
export function __memoryUsage(): { entries: number; bytes: number };
