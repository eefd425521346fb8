// OpenTelemetry: one span per loader run, a child of the span active when it starts (the
// request's), with the component, what started it and the outcome. A minimal recording tracer
// provider stands in for an SDK (its own process: the provider is global).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { __renderState, __startBatch, defineLoader, getLoaderData } from '../../js/runtime.js';

/** @type {any[]} */
const spans = [];
let nextId = 1;
const hex = (n, width) => n.toString(16).padStart(width, '0');

/** A span that records what it is told. */
class RecordingSpan {
  /** @param {string} name @param {any} options @param {any} parent */
  constructor(name, options, parent) {
    this.name = name;
    this.attributes = { ...(options?.attributes ?? {}) };
    this.parent = parent?.spanContext().spanId;
    this.context = { traceId: parent?.spanContext().traceId ?? hex(nextId, 32), spanId: hex(nextId++, 16), traceFlags: 1 };
    this.status = undefined;
    /** @type {unknown[]} */
    this.exceptions = [];
    this.ended = false;
    spans.push(this);
  }
  spanContext() {
    return this.context;
  }
  isRecording() {
    return !this.ended;
  }
  /** @param {string} key @param {unknown} value */
  setAttribute(key, value) {
    this.attributes[key] = value;
    return this;
  }
  /** @param {any} status */
  setStatus(status) {
    this.status = status;
    return this;
  }
  /** @param {unknown} error */
  recordException(error) {
    this.exceptions.push(error);
  }
  end() {
    this.ended = true;
  }
}

/** What an SDK's AsyncLocalStorage context manager does: the active context follows async calls. */
const storage = new AsyncLocalStorage();
const contextManager = {
  active: () => storage.getStore() ?? ROOT_CONTEXT,
  /** @param {any} ctx @param {Function} fn @param {unknown} thisArg @param {unknown[]} args */
  with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.call(thisArg, ...args)),
  /** @param {any} _ctx @param {any} target */
  bind: (_ctx, target) => target,
  enable() {
    return this;
  },
  disable() {
    return this;
  },
};

const provider = {
  getTracer: () => ({
    /** @param {string} name @param {any} options @param {any} ctx */
    startSpan: (name, options, ctx = context.active()) => new RecordingSpan(name, options, trace.getSpan(ctx)),
  }),
};

function fakeAstro(path = '/x') {
  const url = new URL(`http://127.0.0.1${path}`);
  return { locals: {}, params: {}, url, request: new Request(url) };
}
const component = (/** @type {string} */ key) => `src/components/${key}.astro`;

test('without an SDK nothing records: loaders run as before', async () => {
  const astro = fakeAstro();
  const loader = async () => 'a';
  assert.equal(await getLoaderData({ astro, key: 'A', loader, component: component('A') }), 'a');
  __renderState(astro).end();
  assert.equal(spans.length, 0);
});

test('one span per loader run, under the active (request) span, with its outcome', async () => {
  assert.ok(trace.setGlobalTracerProvider(/** @type {any} */ (provider)));
  assert.ok(context.setGlobalContextManager(/** @type {any} */ (contextManager)));
  const request = new RecordingSpan('GET /x', {}, undefined);
  const astro = fakeAstro();
  const child = async () => 'child';
  const failing = async () => {
    throw new Error('db down');
  };
  /** @type {any} */
  let innerActive;
  const parent = async (/** @type {any} */ ctx) => {
    innerActive = trace.getSpan(context.active());
    return ctx.load(child);
  };
  await context.with(trace.setSpan(context.active(), /** @type {any} */ (request)), async () => {
    __startBatch(astro, [
      { key: 'P', loader: parent, component: component('P'), conditional: false },
      { key: 'F', loader: failing, component: component('F'), conditional: false },
    ]);
    assert.equal(await getLoaderData({ astro, key: 'P', loader: parent, component: component('P') }), 'child');
    await assert.rejects(getLoaderData({ astro, key: 'F', loader: failing, component: component('F') }), /db down/);
  });
  __renderState(astro).end();
  const byName = Object.fromEntries(spans.filter((s) => s !== request).map((s) => [s.name, s]));
  assert.deepEqual(Object.keys(byName).sort(), ['loader child', 'loader src/components/F.astro', 'loader src/components/P.astro']);
  const p = byName['loader src/components/P.astro'];
  assert.equal(p.parent, request.context.spanId, 'a child of the request span');
  assert.equal(p.attributes['astro_hoist.origin'], 'batch');
  assert.equal(p.attributes['astro_hoist.component'], 'src/components/P.astro');
  assert.equal(p.attributes['astro_hoist.outcome'], 'ok');
  assert.ok(p.ended);
  assert.equal(innerActive, p, 'the loader runs inside its span: its own calls are its children');
  const c = byName['loader child'];
  assert.equal(c.parent, p.context.spanId);
  assert.equal(c.attributes['astro_hoist.origin'], 'load');
  const f = byName['loader src/components/F.astro'];
  assert.equal(f.attributes['astro_hoist.outcome'], 'error');
  assert.equal(f.status.code, 2);
  assert.match(f.status.message, /db down/);
  assert.equal(f.exceptions.length, 1);
});

test('a cached loader run is marked miss, then hit', async () => {
  spans.length = 0;
  const cached = defineLoader(async () => ({ n: 1 }), { cache: { maxAge: 60 } });
  for (const expected of ['miss', 'hit']) {
    const astro = fakeAstro('/cached');
    assert.deepEqual(await getLoaderData({ astro, key: 'C', loader: cached, component: component('C') }), { n: 1 });
    __renderState(astro).end();
    await new Promise((resolve) => setImmediate(resolve));
    const span = spans.at(-1);
    assert.equal(span.name, 'loader src/components/C.astro');
    assert.equal(span.attributes['astro_hoist.cache'], expected);
  }
});
