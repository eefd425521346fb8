// Unit tests of the per-request runtime (js/runtime.js) and its middleware (js/middleware.js).
// `Astro` is simulated as a plain object; the middleware is called with a fake `next`.
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { __existingRenderState, __registerLoader, __renderState, __startBatch, defineBatchLoader, defineLoader, getLoaderData, propsKey } from '../../js/runtime.js';
import { onRequest, opaqueServerTimingHeader, serverTimingHeader } from '../../js/middleware.js';
import { batchCode, registrationCode } from '../../js/codegen.js';

// Any rejection nobody handled fails the last test of this file (and node:test's own check).
/** @type {unknown[]} */
const unhandled = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

function fakeAstro(path = '/x', params = {}, init = {}) {
  const url = new URL(`http://127.0.0.1${path}`);
  return { locals: {}, params, url, request: new Request(url, init) };
}
const component = (key) => `src/components/${key}.astro`;
const entry = (key, loader, conditional = false) => ({ key, loader, component: component(key), conditional });
const bind = (astro, key, loader) => ({ astro, key, loader, component: component(key) });
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};
/** A loader that never resolves on its own; it records its signal. */
function hanging() {
  const loader = ({ signal }) => {
    loader.signal = signal;
    loader.calls++;
    return new Promise(() => {});
  };
  loader.calls = 0;
  loader.signal = undefined;
  return loader;
}
/** A counting loader that resolves with `value` after `ms`. */
function counting(value, ms = 0) {
  const loader = async (context) => {
    loader.calls++;
    loader.signal = context.signal;
    if (ms) await delay(ms);
    return value;
  };
  loader.calls = 0;
  return loader;
}
const endRequest = (astro) => __renderState(astro).end();

describe('exactly once per request', () => {
  it('runs a batched loader once, however many components and batches ask for it', async () => {
    const astro = fakeAstro();
    const loader = counting({ title: 'post' }, 5);
    __startBatch(astro, [entry('Post', loader)]);
    __startBatch(astro, [entry('Post', loader)]);
    const reads = Array.from({ length: 6 }, () => getLoaderData(bind(astro, 'Post', loader)));
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(loader.calls, 1);
    const values = await Promise.all(reads);
    for (const value of values) assert.equal(value, values[0]);
    assert.deepEqual(values[0], { title: 'post' });
    assert.equal(reads[0], reads[5], 'one promise per component');
    await getLoaderData(bind(astro, 'Post', loader));
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(loader.calls, 1);
    endRequest(astro);
  });

  it('starts a loader lazily at its first read when no batch started it, still once', async () => {
    const astro = fakeAstro();
    const other = counting('other');
    const lazy = counting('lazy');
    __startBatch(astro, [entry('Other', other)]);
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(lazy.calls, 0);
    const first = getLoaderData(bind(astro, 'Lazy', lazy));
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(lazy.calls, 1, 'started by the read');
    assert.equal(await first, 'lazy');
    assert.equal(await getLoaderData(bind(astro, 'Lazy', lazy)), 'lazy');
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(lazy.calls, 1);
    endRequest(astro);
  });

  it('works without any batch or middleware (state created lazily, nothing put on locals)', async () => {
    const astro = fakeAstro();
    const loader = counting(7);
    assert.equal(await getLoaderData(bind(astro, 'Solo', loader)), 7);
    assert.ok(__existingRenderState(astro), 'a render state exists');
    assert.deepEqual(Reflect.ownKeys(astro.locals), [], 'locals are left alone');
    endRequest(astro);
  });
});

describe('conditional and speculative loaders', () => {
  it('does not start a conditional loader unless speculative; its read starts it', async () => {
    const astro = fakeAstro();
    const always = counting('always');
    const maybe = counting('maybe');
    __startBatch(astro, [entry('Always', always), entry('Maybe', maybe, true)], { speculative: false });
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(always.calls, 1);
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(maybe.calls, 0);
    await ticks();
    assert.equal(maybe.calls, 0);
    assert.equal(await getLoaderData(bind(astro, 'Maybe', maybe)), 'maybe');
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(maybe.calls, 1);
    endRequest(astro);
  });

  it('starts conditional loaders in the batch when speculative, once', async () => {
    const astro = fakeAstro();
    const maybe = counting('maybe');
    __startBatch(astro, [entry('Maybe', maybe, true)], { speculative: true });
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(maybe.calls, 1);
    assert.equal(await getLoaderData(bind(astro, 'Maybe', maybe)), 'maybe');
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(maybe.calls, 1);
    endRequest(astro);
  });

  it('aborts unread speculative work when the response body ends, without waiting for it', async () => {
    const astro = fakeAstro();
    const main = counting('main', 2);
    const spec = hanging();
    const response = await onRequest(astro, async () => {
      __startBatch(astro, [entry('Main', main), entry('Spec', spec, true)], { speculative: true });
      return new Response('<html>page</html>', { headers: { 'content-type': 'text/html' } });
    });
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(spec.calls, 1);
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(spec.signal.aborted, false, 'still running while the body streams');
    assert.equal(await response.text(), '<html>page</html>');
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(spec.signal.aborted, true);
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(spec.signal.reason.name, 'AbortError');
    assert.doesNotMatch(response.headers.get('server-timing') ?? '', /Spec/, 'unsettled work is not listed');
  });
});

describe('loaders found by key (each component registers its own)', () => {
  it('a batch starts a registered loader it names by key only, and the component reads that run', async () => {
    const astro = fakeAstro();
    const child = counting('child data', 5);
    __registerLoader('registry-child', child, component('registry-child'));
    __startBatch(astro, ['registry-child']);
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(child.calls, 1, 'started by the batch, before the child renders');
    assert.equal(__existingRenderState(astro)?.runs.get('registry-child')?.component, component('registry-child'), 'the path it registered with');
    assert.equal(await getLoaderData(bind(astro, 'registry-child', child)), 'child data');
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(child.calls, 1);
    endRequest(astro);
  });

  it('the generated registration and batch statement (no import of the runtime) start the registered loaders', async () => {
    const astro = fakeAstro();
    const child = counting('child data');
    // The child's module ends with its registration, `loader` being its module-level binding.
    const info = /** @type {any} */ ({ id: 'registry-generated', loader: { hoistable: true, reads: { context: [] } }, loaderDataCalls: [{}] });
    new Function('loader', 'Symbol', registrationCode(info, {}, component('registry-generated')).join('\n'))(child, function Symbol() {});
    const { statement, declarations } = batchCode([{ file: '/p/src/components/C.astro', id: 'registry-generated', component: component('registry-generated'), conditional: false }], { file: '/p/src/pages/index.astro' });
    // The page's module: its declarations, then its frontmatter's statement, with no import; it
    // imports a component named `Symbol` (an icon set's), which the lookup must not call.
    new Function('Astro', '$$result', 'Symbol', `${declarations.join('\n')}\n${statement}`)(astro, undefined, function Symbol() {});
    await ticks(1);
    assert.equal(child.calls, 1, 'started by the generated batch');
    assert.equal(__existingRenderState(astro)?.runs.get('registry-generated')?.component, component('registry-generated'), 'the path it registered with');
    assert.equal(await getLoaderData(bind(astro, 'registry-generated', child)), 'child data');
    assert.equal(child.calls, 1);
    endRequest(astro);
  });

  it('an unknown key starts nothing; the component starts its own at render', async () => {
    const astro = fakeAstro();
    const late = counting('late');
    __startBatch(astro, [{ key: 'registry-never', component: component('registry-never'), conditional: false }]);
    assert.equal(late.calls, 0);
    assert.equal(await getLoaderData(bind(astro, 'registry-never', late)), 'late');
    endRequest(astro);
  });

  it('a key two modules register (two apps with one component path) is left to each component; dev replaces', async () => {
    const a = counting('app a');
    const b = counting('app b');
    __registerLoader('registry-shared', a);
    __registerLoader('registry-shared', a); // the same module again: still known
    __registerLoader('registry-shared', b);
    const astro = fakeAstro();
    __startBatch(astro, [{ key: 'registry-shared', component: component('registry-shared'), conditional: false }]);
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(a.calls + b.calls, 0, 'ambiguous: the batch does not guess');
    assert.equal(await getLoaderData(bind(astro, 'registry-shared', b)), 'app b', 'each component reads its own loader');
    endRequest(astro);
    const edited = counting('edited');
    __registerLoader('registry-shared', edited, component('registry-shared'), true);
    const next = fakeAstro();
    __startBatch(next, [{ key: 'registry-shared', component: component('registry-shared'), conditional: false }]);
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(edited.calls, 1, 'a dev re-evaluation replaces the old loader');
    endRequest(next);
  });
});

describe('timeouts', () => {
  it('applies to a loader no batch started: the integration\'s options come with its getLoaderData() binding', async () => {
    const astro = fakeAstro();
    const slow = hanging();
    const keepAlive = setInterval(() => {}, 1000);
    await assert.rejects(getLoaderData({ ...bind(astro, 'Alone', slow), options: { timeout: 25 } }), /timed out after 25 ms/);
    clearInterval(keepAlive);
    assert.equal(slow.signal.aborted, true);
    endRequest(astro);
  });

  it('aborts the loader signal and rejects readers with a timeout error naming the component', async () => {
    const astro = fakeAstro();
    const slow = hanging();
    // The runtime unrefs its timers; with nothing else pending the process would exit first.
    const keepAlive = setInterval(() => {}, 1000);
    __startBatch(astro, [entry('Slow', slow)], { timeout: 20 });
    await assert.rejects(getLoaderData(bind(astro, 'Slow', slow)), (error) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /src\/components\/Slow\.astro/);
      assert.match(error.message, /timed out after 20 ms/);
      assert.equal(error.cause.name, 'TimeoutError');
      return true;
    });
    clearInterval(keepAlive);
    assert.equal(slow.signal.aborted, true);
    assert.equal(slow.signal.reason.name, 'TimeoutError');
    endRequest(astro);
  });

  it('clears the timer of every loader that settles in time, and unrefs it', async () => {
    const setSpy = mock.method(globalThis, 'setTimeout');
    const clearSpy = mock.method(globalThis, 'clearTimeout');
    try {
      const astro = fakeAstro();
      const fast = counting('fast');
      const failing = async () => {
        throw new Error('nope');
      };
      __startBatch(astro, [entry('Fast', fast), entry('Failing', failing)], { timeout: 54321 });
      assert.equal(await getLoaderData(bind(astro, 'Fast', fast)), 'fast');
      await assert.rejects(getLoaderData(bind(astro, 'Failing', failing)), /nope/);
      const timers = setSpy.mock.calls.filter((call) => call.arguments[1] === 54321).map((call) => call.result);
      assert.equal(timers.length, 2);
      for (const timer of timers) assert.equal(timer.hasRef(), false, 'unref');
      const cleared = new Set(clearSpy.mock.calls.map((call) => call.arguments[0]));
      for (const timer of timers) assert.ok(cleared.has(timer), 'timer cleared on settle');
      endRequest(astro);
    } finally {
      setSpy.mock.restore();
      clearSpy.mock.restore();
    }
  });

  it('times a loader from its start, not while it waits for a concurrency slot', async () => {
    const astro = fakeAstro();
    const first = counting('first', 60);
    const second = counting('second', 25);
    __startBatch(astro, [entry('First', first), entry('Second', second)], { timeout: 40, concurrency: 1 });
    await assert.rejects(getLoaderData(bind(astro, 'First', first)), /timed out after 40 ms/);
    assert.equal(await getLoaderData(bind(astro, 'Second', second)), 'second');
    endRequest(astro);
  });
});

describe('concurrency', () => {
  /** Loaders that record start order and the most in flight at once. */
  function tracker() {
    const t = { inFlight: 0, max: 0, started: /** @type {string[]} */ ([]) };
    t.loader = (name, ms) => async () => {
      t.started.push(name);
      t.inFlight++;
      t.max = Math.max(t.max, t.inFlight);
      await delay(ms);
      t.inFlight--;
      return name;
    };
    return t;
  }

  it('keeps at most `concurrency` loaders in flight and starts the rest in entry order', async () => {
    const astro = fakeAstro();
    const t = tracker();
    const names = ['A', 'B', 'C', 'D', 'E'];
    const entries = names.map((name, i) => entry(name, t.loader(name, 5 + i)));
    __startBatch(astro, entries, { concurrency: 2 });
    await ticks(1); // loaders start in the turn after the one that asked
    assert.deepEqual(t.started, ['A', 'B']);
    const values = await Promise.all(entries.map((e) => getLoaderData(bind(astro, e.key, e.loader))));
    assert.deepEqual(values, names);
    assert.equal(t.max, 2);
    await ticks(1); // loaders start in the turn after the one that asked
    assert.deepEqual(t.started, names);
    endRequest(astro);
  });

  it('queues lazily started loaders behind the limit too', async () => {
    const astro = fakeAstro();
    const t = tracker();
    __startBatch(astro, [entry('A', t.loader('A', 10))], { concurrency: 1 });
    const lazy = t.loader('Lazy', 1);
    const read = getLoaderData(bind(astro, 'Lazy', lazy));
    await ticks(1); // loaders start in the turn after the one that asked
    assert.deepEqual(t.started, ['A']);
    assert.equal(await read, 'Lazy');
    assert.equal(t.max, 1);
    endRequest(astro);
  });

  it('does not deadlock when a loader loads a queued one under a limit of 1', async () => {
    const astro = fakeAstro();
    const b = counting('b');
    const a = async ({ load }) => `a+${await load(b)}`;
    __startBatch(astro, [entry('A', a), entry('B', b)], { concurrency: 1 });
    assert.equal(await getLoaderData(bind(astro, 'A', a)), 'a+b');
    assert.equal(await getLoaderData(bind(astro, 'B', b)), 'b');
    assert.equal(b.calls, 1);
    endRequest(astro);
  });
});

describe('loader context and context.load()', () => {
  it('passes params, url, request, locals from Astro, a signal and load', async () => {
    const astro = fakeAstro('/post/hello', { slug: 'hello' });
    /** @type {any} */
    let seen;
    const loader = defineLoader((context) => {
      seen = context;
      return context.params.slug;
    });
    __startBatch(astro, [entry('Post', loader)]);
    assert.equal(await getLoaderData(bind(astro, 'Post', loader)), 'hello');
    assert.equal(seen.params, astro.params);
    assert.equal(seen.url, astro.url);
    assert.equal(seen.request, astro.request);
    assert.equal(seen.locals, astro.locals);
    assert.ok(seen.signal instanceof AbortSignal);
    assert.equal(seen.signal.aborted, false);
    assert.equal(typeof seen.load, 'function');
    endRequest(astro);
    assert.equal(seen.signal.aborted, true, 'aborts when the request ends');
  });

  it('defineLoader returns the function itself', () => {
    const fn = async () => 1;
    assert.equal(defineLoader(fn), fn);
  });

  it('dedupes load() of a registered loader by key, shared with getLoaderData', async () => {
    const astro = fakeAstro();
    const c = counting('c', 5);
    const a = async ({ load }) => `a+${await load(c)}`;
    const b = async ({ load }) => `b+${await load(c)}`;
    // C is conditional, so the batch does not start it: only load() does, once.
    __startBatch(astro, [entry('A', a), entry('B', b), entry('C', c, true)]);
    assert.equal(await getLoaderData(bind(astro, 'A', a)), 'a+c');
    assert.equal(await getLoaderData(bind(astro, 'B', b)), 'b+c');
    assert.equal(await getLoaderData(bind(astro, 'C', c)), 'c');
    assert.equal(c.calls, 1);
    endRequest(astro);
  });

  it('dedupes load() of an unregistered function by identity, adopted by a later keyed read', async () => {
    const astro = fakeAstro();
    const shared = counting('shared', 2);
    const a = async ({ load }) => `a+${await load(shared)}`;
    const b = async ({ load }) => `b+${await load(shared)}`;
    __startBatch(astro, [entry('A', a), entry('B', b)]);
    assert.equal(await getLoaderData(bind(astro, 'A', a)), 'a+shared');
    assert.equal(await getLoaderData(bind(astro, 'B', b)), 'b+shared');
    assert.equal(await getLoaderData(bind(astro, 'Shared', shared)), 'shared');
    assert.equal(shared.calls, 1);
    endRequest(astro);
  });

  it('rejects a self-cycle (A loads A) with the chain, without hanging', { timeout: 2000 }, async () => {
    const astro = fakeAstro();
    const a = async ({ load }) => load(a);
    __startBatch(astro, [entry('A', a)]);
    await assert.rejects(getLoaderData(bind(astro, 'A', a)), (error) => {
      assert.match(error.message, /src\/components\/A\.astro failed/);
      assert.match(error.message, /cycle: src\/components\/A\.astro -> src\/components\/A\.astro/);
      return true;
    });
    endRequest(astro);
  });

  it('rejects A -> B -> A with the chain, without hanging', { timeout: 2000 }, async () => {
    const astro = fakeAstro();
    const a = async ({ load }) => load(b);
    const b = async ({ load }) => load(a);
    __startBatch(astro, [entry('A', a), entry('B', b)]);
    const cycle = /cycle: src\/components\/B\.astro -> src\/components\/A\.astro -> src\/components\/B\.astro/;
    await assert.rejects(getLoaderData(bind(astro, 'A', a)), cycle);
    await assert.rejects(getLoaderData(bind(astro, 'B', b)), cycle);
    endRequest(astro);
  });

  it('names unregistered functions in a cycle and across a longer chain', { timeout: 2000 }, async () => {
    const astro = fakeAstro();
    async function first({ load }) {
      await delay(1);
      return load(second);
    }
    async function second({ load }) {
      return load(third);
    }
    async function third({ load }) {
      return load(first);
    }
    const page = async ({ load }) => load(first);
    await assert.rejects(getLoaderData(bind(astro, 'Page', page)), /cycle: third -> first -> second -> third/);
    endRequest(astro);
  });

  it('rejects load() of something that is not a function', async () => {
    const astro = fakeAstro();
    const a = async ({ load }) => load(/** @type {any} */ ('nope'));
    await assert.rejects(getLoaderData(bind(astro, 'A', a)), /expects a loader function, got string/);
    endRequest(astro);
  });
});

describe('errors', () => {
  it('fails only the readers of a failing loader, naming the component, with the cause', async () => {
    const astro = fakeAstro();
    const syncError = new Error('sync boom');
    const asyncError = new Error('async boom');
    const throwsSync = () => {
      throw syncError;
    };
    const rejects = async () => {
      await delay(1);
      throw asyncError;
    };
    const throwsString = async () => {
      throw 'plain string';
    };
    const fine = counting('fine', 3);
    __startBatch(astro, [
      entry('Sync', throwsSync),
      entry('Async', rejects),
      entry('Str', throwsString),
      entry('Fine', fine),
    ]);
    await assert.rejects(getLoaderData(bind(astro, 'Sync', throwsSync)), (error) => {
      assert.equal(error.message, '[astro-hoist] loader of src/components/Sync.astro failed: sync boom');
      assert.equal(error.cause, syncError);
      return true;
    });
    await assert.rejects(getLoaderData(bind(astro, 'Async', rejects)), (error) => {
      assert.equal(error.message, '[astro-hoist] loader of src/components/Async.astro failed: async boom');
      assert.equal(error.cause, asyncError);
      return true;
    });
    await assert.rejects(getLoaderData(bind(astro, 'Str', throwsString)), (error) => {
      assert.match(error.message, /Str\.astro failed: plain string$/);
      assert.equal(error.cause, 'plain string');
      return true;
    });
    assert.equal(await getLoaderData(bind(astro, 'Fine', fine)), 'fine');
    endRequest(astro);
  });

  it('explains a getLoaderData() call without its binding', () => {
    assert.throws(
      () => /** @type {any} */ (getLoaderData)(),
      (error) => {
        assert.match(error.message, /frontmatter of a \.astro component that exports `loader`/);
        assert.match(error.message, /astro-hoist integration/);
        return true;
      },
    );
    assert.throws(() => /** @type {any} */ (getLoaderData)({}), /without its binding/);
  });

  it('names the component when it has no loader', () => {
    const astro = fakeAstro();
    assert.throws(
      () => getLoaderData({ astro, key: 'K', loader: undefined, component: 'src/components/NoLoader.astro' }),
      /src\/components\/NoLoader\.astro: the component does not export a `loader`/,
    );
  });

  it('never leaves an unhandled rejection for failures nobody reads', async () => {
    const astro = fakeAstro();
    const failing = async () => {
      throw new Error('unread');
    };
    const failingSync = () => {
      throw new Error('unread sync');
    };
    const spec = async () => {
      throw new Error('unread speculative');
    };
    const queued = hanging();
    __startBatch(
      astro,
      [entry('Failing', failing), entry('FailingSync', failingSync), entry('Spec', spec, true), entry('Q', hanging()), entry('Queued', queued)],
      { speculative: true, concurrency: 4, timeout: 5 },
    );
    await delay(20);
    endRequest(astro); // aborts the queued one too
    await ticks();
    assert.deepEqual(unhandled, []);
  });
});

describe('per-request state', () => {
  it('keeps two concurrent requests apart', async () => {
    const seen = [];
    const loader = async ({ params, locals, signal }) => {
      seen.push(params.slug);
      await delay(params.slug === 'a' ? 15 : 5);
      return { slug: params.slug, user: locals.user, signal };
    };
    const a = fakeAstro('/a', { slug: 'a' });
    const b = fakeAstro('/b', { slug: 'b' });
    a.locals.user = 'alice';
    b.locals.user = 'bob';
    __startBatch(a, [entry('Post', loader)]);
    __startBatch(b, [entry('Post', loader)]);
    const [dataA, dataB] = await Promise.all([
      getLoaderData(bind(a, 'Post', loader)),
      getLoaderData(bind(b, 'Post', loader)),
    ]);
    assert.deepEqual(seen.sort(), ['a', 'b'], 'once per request, not once per process');
    assert.equal(dataA.slug, 'a');
    assert.equal(dataA.user, 'alice');
    assert.equal(dataB.slug, 'b');
    assert.equal(dataB.user, 'bob');
    assert.notEqual(__existingRenderState(a), __existingRenderState(b));
    endRequest(a);
    assert.equal(dataA.signal.aborted, true);
    assert.equal(dataB.signal.aborted, false, 'ending one request does not touch the other');
    endRequest(b);
  });

  it('records start and end of each loader with performance.now()', async () => {
    const astro = fakeAstro();
    const before = performance.now();
    const loader = counting('x', 10);
    __startBatch(astro, [entry('Timed', loader)]);
    await getLoaderData(bind(astro, 'Timed', loader));
    const [timing] = __renderState(astro).timings();
    assert.equal(timing.key, 'Timed');
    assert.equal(timing.component, 'src/components/Timed.astro');
    assert.equal(timing.ok, true);
    assert.ok(timing.start >= before);
    assert.ok(timing.end - timing.start >= 5);
    endRequest(astro);
  });
});

describe('middleware', () => {
  it('never holds the head: returns at once, Server-Timing lists only what has settled by then', async () => {
    const astro = fakeAstro();
    const slow = hanging();
    const quick = counting('quick', 1);
    const own = counting('own');
    const started = performance.now();
    const response = await onRequest(astro, async () => {
      __startBatch(astro, [entry('Slow', slow), entry('Quick', quick)], { serverTiming: 'paths' });
      await getLoaderData(bind(astro, 'Own', own)); // the page's own loader, awaited by its frontmatter
      return new Response('<p>ok</p>', { status: 201, headers: { 'content-type': 'text/html', 'x-custom': '1' } });
    });
    assert.ok(performance.now() - started < 200, 'the response came back without waiting for the batch');
    const header = response.headers.get('server-timing');
    assert.match(header ?? '', /^components\.Own;dur=\d+\.\d;desc="src\/components\/Own\.astro"$/);
    assert.equal(slow.signal.aborted, false, 'the slow loader runs on while the body streams');
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('content-type'), 'text/html');
    assert.equal(response.headers.get('x-custom'), '1');
    assert.equal(await response.text(), '<p>ok</p>');
    assert.equal(slow.signal.aborted, true, 'the body ended: the render is over');
  });

  it('Server-Timing: component paths in dev by default, component ids with "opaque", none in production by default', async () => {
    const run = async (options) => {
      const astro = fakeAstro();
      const own = counting('own');
      const response = await onRequest(astro, async () => {
        __startBatch(astro, [], options);
        await getLoaderData(bind(astro, 'Own', own));
        return new Response('x');
      });
      await response.text();
      return response.headers.get('server-timing');
    };
    assert.match((await run({ dev: true })) ?? '', /^components\.Own;dur=[\d.]+;desc="src\/components\/Own\.astro"$/);
    assert.match((await run({ serverTiming: 'opaque' })) ?? '', /^hoist-Own;dur=[\d.]+$/);
    assert.equal(await run({}), null, 'production without the option: no header, no paths');
    assert.equal(await run({ dev: true, serverTiming: false }), null);
    assert.equal(opaqueServerTimingHeader([{ key: 'a1b2', component: 'src/x.astro', name: 'x', start: 1, end: 3.46, ok: true }]), 'hoist-a1b2;dur=2.5');
  });

  it('adds no Server-Timing when no loader ran', async () => {
    const astro = fakeAstro();
    const response = await onRequest(astro, async () => new Response('plain'));
    assert.equal(response.headers.get('server-timing'), null);
    assert.equal(await response.text(), 'plain');
  });

  it('leaves a page that started no loader untouched: same Response, no render state', async () => {
    const astro = fakeAstro();
    const page = new Response('<p>static</p>', { headers: { 'content-type': 'text/html' } });
    const response = await onRequest(astro, async () => page);
    assert.equal(response, page);
    assert.equal(__existingRenderState(astro), undefined);
  });

  it('watches a page whose state a loader created during render (the page\'s own loader)', async () => {
    const astro = fakeAstro();
    const own = counting('own');
    const unread = hanging();
    const response = await onRequest(astro, async () => {
      assert.equal(__existingRenderState(astro), undefined, 'nothing created before the page renders');
      await getLoaderData(bind(astro, 'Own', own));
      __startBatch(astro, [entry('Unread', unread)], { serverTiming: false, speculative: true });
      return new Response('x');
    });
    assert.notEqual(__existingRenderState(astro), undefined);
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(unread.signal.aborted, false);
    assert.equal(await response.text(), 'x');
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(unread.signal.aborted, true, 'the body ended: unread loaders are aborted');
  });

  it('aborts loader signals when the body has been read to the end, not before', async () => {
    const astro = fakeAstro();
    const loader = counting('x');
    /** @type {ReadableStreamDefaultController<Uint8Array>} */
    let source;
    const response = await onRequest(astro, async () => {
      __startBatch(astro, [entry('A', loader)], { serverTiming: false });
      return new Response(new ReadableStream({ start: (c) => (source = c) }));
    });
    const reader = response.body.getReader();
    source.enqueue(new TextEncoder().encode('chunk1'));
    const { value } = await reader.read();
    assert.equal(new TextDecoder().decode(value), 'chunk1');
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(loader.signal.aborted, false, 'the body is still streaming');
    source.close();
    assert.equal((await reader.read()).done, true);
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(loader.signal.aborted, true);
  });

  it('aborts loader signals and the source when the consumer cancels the body', async () => {
    const astro = fakeAstro();
    const loader = hanging();
    let sourceCancelled = false;
    const response = await onRequest(astro, async () => {
      __startBatch(astro, [entry('A', loader)], { serverTiming: false });
      return new Response(new ReadableStream({ cancel: () => void (sourceCancelled = true) }));
    });
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(loader.signal.aborted, false);
    await response.body.cancel(new Error('client went away'));
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(loader.signal.aborted, true);
    assert.equal(sourceCancelled, true);
  });

  it('ends the request when the body errors', async () => {
    const astro = fakeAstro();
    const loader = hanging();
    const response = await onRequest(astro, async () => {
      __startBatch(astro, [entry('A', loader)], { serverTiming: false });
      await ticks(1); // the render goes on past its first turn: the loader is running
      return new Response(new ReadableStream({ pull: (c) => c.error(new Error('render failed')) }));
    });
    await assert.rejects(response.text(), /render failed/);
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(loader.signal.aborted, true);
  });

  it('aborts when the client disconnects (request.signal)', async () => {
    const client = new AbortController();
    const astro = fakeAstro('/x', {}, { signal: client.signal });
    const loader = hanging();
    await onRequest(astro, async () => {
      __startBatch(astro, [entry('A', loader)], { serverTiming: false });
      await ticks(1); // the render goes on past its first turn: the loader is running
      return new Response('x');
    });
    const read = getLoaderData(bind(astro, 'A', loader));
    client.abort(new Error('socket closed'));
    assert.equal(loader.signal.aborted, true);
    await assert.rejects(read, /A\.astro failed: socket closed/);
  });

  it('returns redirects untouched and ends the request', async () => {
    const astro = fakeAstro();
    const loader = hanging();
    const redirect = Response.redirect('http://127.0.0.1/elsewhere', 302);
    const response = await onRequest(astro, async () => {
      __startBatch(astro, [entry('A', loader)]);
      await ticks(1); // the render goes on past its first turn: the loader is running
      return redirect;
    });
    assert.equal(response, redirect);
    assert.equal(response.status, 302);
    assert.equal(response.headers.get('location'), 'http://127.0.0.1/elsewhere');
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(loader.signal.aborted, true, 'nothing will render the loaders now');
  });

  it('returns bodiless responses untouched', async () => {
    const astro = fakeAstro();
    const empty = new Response(null, { status: 204, headers: { 'x-a': 'b' } });
    const response = await onRequest(astro, async () => empty);
    assert.equal(response, empty);
  });

  it('passes non-HTML bodies through byte for byte, keeping Astro symbols', async () => {
    const astro = fakeAstro();
    const cookies = { cookie: 'jar' };
    const response = await onRequest(astro, async () => {
      const r = new Response(JSON.stringify({ ok: true }), { headers: { 'content-type': 'application/json' } });
      Reflect.set(r, Symbol.for('astro.cookies'), cookies);
      return r;
    });
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.equal(Reflect.get(response, Symbol.for('astro.cookies')), cookies);
    response.headers.delete('content-type'); // Astro deletes internal headers: must be mutable
    assert.deepEqual(await response.json(), { ok: true });
  });

  it('rethrows errors from next() and ends the request', async () => {
    const astro = fakeAstro();
    const loader = hanging();
    const failure = new Error('page failed');
    await assert.rejects(
      onRequest(astro, async () => {
        __startBatch(astro, [entry('A', loader)]);
        await ticks(1); // the render goes on past its first turn: the loader is running
        throw failure;
      }),
      (error) => error === failure,
    );
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(loader.signal.aborted, true);
  });

  it('never throws because of its own bookkeeping', async () => {
    const original = new Response('x');
    const noLocals = await onRequest(/** @type {any} */ ({ locals: undefined, request: new Request('http://127.0.0.1/') }), async () => original);
    assert.equal(noLocals, original);
    const astro = fakeAstro();
    const weird = new Response('y', { status: 200 });
    Object.defineProperty(weird, 'headers', { get: () => { throw new Error('boom'); } });
    const response = await onRequest(astro, async () => weird);
    assert.equal(response, weird);
  });
});

describe('serverTimingHeader', () => {
  it('makes valid tokens, dedupes names, quotes and encodes desc, one decimal', () => {
    const header = serverTimingHeader([
      { key: '1', component: 'src/components/Card.astro', name: 'x', start: 1, end: 13.46, ok: true },
      { key: '2', component: 'src/components/Card.astro', name: 'x', start: 2, end: 3, ok: false },
      { key: '3', component: 'src/components/Card.astro', name: 'x', start: 2, end: 3, ok: true },
      { key: '4', component: 'src/pages/[slug] "q"\\.astro', name: 'x', start: 0, end: 0.04, ok: true },
      { key: '5', component: 'src/components/Ünïcode.astro', name: 'x', start: 0, end: 1, ok: true },
      { key: null, component: null, name: 'helper', start: 0, end: 2, ok: true },
    ]);
    assert.equal(
      header,
      [
        'components.Card;dur=12.5;desc="src/components/Card.astro"',
        'components.Card-2;dur=1.0;desc="src/components/Card.astro"',
        'components.Card-3;dur=1.0;desc="src/components/Card.astro"',
        'pages.slug.q;dur=0.0;desc="src/pages/[slug] \\"q\\"\\\\.astro"',
        'components.Unicode;dur=1.0;desc="src/components/%C3%9Cn%C3%AFcode.astro"',
        'helper;dur=2.0;desc="helper"',
      ].join(', '),
    );
    new Headers().append('Server-Timing', header); // a valid header value
    assert.equal(serverTimingHeader([]), '');
  });
});

describe('unhandled rejections', () => {
  it('none happened in this file', async () => {
    await delay(30);
    assert.deepEqual(unhandled, []);
  });
});

describe('one state per render', () => {
  const render = () => ({}); // stands in for Astro's per-render $$result
  const bindIn = (astro, result, key, loader) => ({ ...bind(astro, key, loader), result });

  it('two renders sharing one locals object and one request never share runs (a host that reuses locals, a second next())', async () => {
    const astro = fakeAstro('/a', { slug: 'a' });
    const first = render();
    const second = render();
    let calls = 0;
    const loader = async ({ params }) => {
      calls++;
      if (calls === 1) throw new Error('first render failed');
      return params.slug;
    };
    __startBatch(astro, [entry('Post', loader)], {}, first);
    await assert.rejects(getLoaderData(bindIn(astro, first, 'Post', loader)), /first render failed/);
    __startBatch(astro, [entry('Post', loader)], {}, second);
    assert.equal(await getLoaderData(bindIn(astro, second, 'Post', loader)), 'a', 'the second render ran the loader again');
    assert.equal(calls, 2);
    assert.notEqual(__existingRenderState(astro, first), __existingRenderState(astro, second));
    __renderState(astro, first).end();
    __renderState(astro, second).end();
  });

  it('a rewrite: the inner render has its own data and the outer scope ends with the response both return', async () => {
    const outerAstro = fakeAstro('/posts/old', { slug: 'old' });
    const innerAstro = { ...fakeAstro('/posts/new', { slug: 'new' }), locals: outerAstro.locals };
    const outerResult = render();
    const innerResult = render();
    const post = counting(null);
    const slugs = [];
    const loader = async ({ params, signal }) => {
      slugs.push(params.slug);
      loader.signals.push(signal);
      return params.slug;
    };
    loader.signals = [];
    const response = await onRequest(outerAstro, async () => {
      // The old page starts its batch, then rewrites: Astro runs the middleware again for the new URL.
      __startBatch(outerAstro, [entry('Post', loader)], {}, outerResult);
      return onRequest(innerAstro, async () => {
        __startBatch(innerAstro, [entry('Post', loader)], {}, innerResult);
        const data = await getLoaderData(bindIn(innerAstro, innerResult, 'Post', loader));
        return new Response(`<p data-post-slug="${data}"></p>`);
      });
    });
    assert.equal(await response.text(), '<p data-post-slug="new"></p>');
    assert.deepEqual(slugs.sort(), ['new', 'old']);
    assert.equal(loader.signals.every((signal) => signal.aborted), true, 'both renders ended with the body');
    assert.equal(post.calls, 0);
  });

  it('concurrent requests through one shared middleware-mode locals object get their own data', async () => {
    const shared = {};
    const loader = async ({ params }) => {
      await delay(params.slug === 'a' ? 10 : 1);
      return params.slug;
    };
    const one = async (slug) => {
      const astro = { ...fakeAstro(`/${slug}`, { slug }), locals: shared };
      const result = render();
      const response = await onRequest(astro, async () => {
        __startBatch(astro, [entry('Post', loader)], {}, result);
        return new Response(String(await getLoaderData(bindIn(astro, result, 'Post', loader))));
      });
      return response.text();
    };
    assert.deepEqual(await Promise.all([one('a'), one('b'), one('a'), one('b')]), ['a', 'b', 'a', 'b']);
    assert.deepEqual(Reflect.ownKeys(shared), []);
  });

  it('an error response with no body ends the render at once (Astro renders the error page as a new render)', async () => {
    const astro = fakeAstro();
    const loader = hanging();
    const response = await onRequest(astro, async () => {
      __startBatch(astro, [entry('A', loader)], {}, render());
      await ticks(1); // the render goes on past its first turn: the loader is running
      return new Response(null, { status: 404 });
    });
    assert.equal(response.status, 404);
    await ticks(1); // loaders start in the turn after the one that asked
    assert.equal(loader.signal.aborted, true);
  });

  it('a 3xx response with a body streams like any other', async () => {
    const astro = fakeAstro();
    const result = render();
    const loader = counting('data');
    const response = await onRequest(astro, async () => {
      __startBatch(astro, [entry('A', loader)], {}, result);
      return new Response(`Redirecting… ${await getLoaderData(bindIn(astro, result, 'A', loader))}`, { status: 302, headers: { location: '/x' } });
    });
    assert.equal(response.status, 302);
    assert.equal(response.headers.get('location'), '/x');
    assert.equal(await response.text(), 'Redirecting… data');
  });
});

describe('loaders that read their props', () => {
  /** The same render, as each instance of a component sees it: its own props. */
  const instance = (astro, props) => ({ ...astro, props });
  const propsBind = (astro, key, loader) => ({ ...bind(astro, key, loader), props: true });
  /** A loader that records the props of each call and answers with them. */
  function byProps(ms = 0) {
    const loader = async ({ props }) => {
      loader.seen.push(props);
      if (ms) await delay(ms);
      return { id: props.id ?? null };
    };
    loader.seen = /** @type {any[]} */ ([]);
    return loader;
  }

  it('runs once per distinct props in a render, each instance getting its own data', async () => {
    const astro = fakeAstro();
    const loader = byProps(2);
    const reads = ['u1', 'u2', 'u1', 'u1', 'u3'].map((id) => getLoaderData(propsBind(instance(astro, { id }), 'Badge', loader)));
    await ticks(1); // loaders start in the turn after the one that asked
    assert.deepEqual(loader.seen.map((p) => p.id), ['u1', 'u2', 'u3']);
    assert.deepEqual((await Promise.all(reads)).map((v) => v.id), ['u1', 'u2', 'u1', 'u1', 'u3']);
    endRequest(astro);
  });

  it('compares props by structure: key order and undefined fields do not matter, values do', () => {
    assert.equal(propsKey({ a: 1, b: { c: [1, 'x'] } }), propsKey({ b: { c: [1, 'x'] }, a: 1, d: undefined }));
    assert.notEqual(propsKey({ a: 1 }), propsKey({ a: '1' }));
    assert.notEqual(propsKey({ a: [1, 2] }), propsKey({ a: [2, 1] }));
    assert.equal(propsKey({ at: new Date(5) }), propsKey({ at: new Date(5) }));
    assert.notEqual(propsKey({ a: 0 }), propsKey({ a: -0 }));
    assert.equal(propsKey({}), '{}');
  });

  it('props that cannot be compared (a function, a class instance, a cycle) get a run per instance', async () => {
    class Post {}
    const cyclic = /** @type {any} */ ({});
    cyclic.self = cyclic;
    for (const value of [() => 1, new Post(), cyclic, new Map()]) assert.equal(propsKey({ value }), null);
    const astro = fakeAstro();
    const loader = byProps();
    const onClick = () => {};
    await getLoaderData(propsBind(instance(astro, { id: 'a', onClick }), 'Card', loader));
    await getLoaderData(propsBind(instance(astro, { id: 'a', onClick }), 'Card', loader));
    assert.equal(loader.seen.length, 2);
    endRequest(astro);
  });

  it('rendered without props, it shares the run a batch or context.load() started (with props {})', async () => {
    const astro = fakeAstro();
    const loader = byProps();
    __startBatch(astro, [entry('Widget', loader)]);
    const empty = await getLoaderData(propsBind(instance(astro, {}), 'Widget', loader));
    assert.deepEqual(empty, { id: null });
    assert.deepEqual(loader.seen, [{}]);
    // An instance with props never gets the batch's run: it gets one with its real props.
    assert.deepEqual(await getLoaderData(propsBind(instance(astro, { id: 'w' }), 'Widget', loader)), { id: 'w' });
    assert.equal(loader.seen.length, 2);
    endRequest(astro);
  });

  it('a loader that reads no props keeps one run per render, whatever the props', async () => {
    const astro = fakeAstro();
    const loader = counting('same');
    await getLoaderData(bind(instance(astro, { id: 1 }), 'Plain', loader));
    await getLoaderData(bind(instance(astro, { id: 2 }), 'Plain', loader));
    assert.equal(loader.calls, 1);
    endRequest(astro);
  });

  it('concurrent renders never share a props run', async () => {
    const loader = byProps(3);
    const one = async (id) => {
      const astro = fakeAstro(`/p/${id}`);
      const value = await getLoaderData(propsBind(instance(astro, { id: 'same' }), 'C', loader));
      endRequest(astro);
      return value;
    };
    await Promise.all([one('a'), one('b')]);
    assert.equal(loader.seen.length, 2);
  });

  it('dev: a loader that reads a prop its instance was not given gets undefined, and the log says so once', async (t) => {
    const warn = t.mock.method(console, 'warn', () => {});
    const astro = fakeAstro();
    const loader = async ({ props }) => props.postId ?? 'none';
    const read = (props) => getLoaderData({ ...propsBind(instance(astro, props), 'Comments', loader), options: { dev: true } });
    assert.equal(await read({ title: 'x' }), 'none');
    assert.equal(await read({ title: 'y' }), 'none');
    assert.equal(await read({ postId: 'p1' }), 'p1');
    const said = warn.mock.calls.map((c) => String(c.arguments[0]));
    assert.equal(said.length, 1, said.join('\n'));
    assert.match(said[0], /src\/components\/Comments\.astro: its loader reads props\.postId, which an instance is rendered without: it gets undefined/);
    endRequest(astro);
  });

  it('Server-Timing names the component once per props run, under its plain key', async () => {
    const astro = fakeAstro();
    const loader = byProps();
    await getLoaderData(propsBind(instance(astro, { id: 'x' }), 'abc123', loader));
    const [timing] = __renderState(astro).timings();
    assert.equal(timing.key, 'abc123');
    endRequest(astro);
  });
});

describe('batch loaders', () => {
  const instance = (astro, props) => ({ ...astro, props });
  const propsBind = (astro, key, loader) => ({ ...bind(astro, key, loader), props: true });
  /** A batch loader recording each call's props list; answers `card:<id>`, or an Error for id 'bad'. */
  function cards(options) {
    /** @type {string[][]} */
    const calls = [];
    const loader = defineBatchLoader(async (propsList) => {
      calls.push(propsList.map((p) => p.id));
      await delay(2);
      return propsList.map((p) => (p.id === 'bad' ? new Error(`no card ${p.id}`) : `card:${p.id}`));
    }, options);
    return { loader, calls };
  }

  it('one call for every instance rendered together, equal props once, each gets its own entry', async () => {
    const astro = fakeAstro();
    const { loader, calls } = cards();
    const ids = Array.from({ length: 50 }, (_, i) => `id${i % 5}`);
    const reads = ids.map((id) => getLoaderData(propsBind(instance(astro, { id }), 'Card', loader)));
    assert.deepEqual(await Promise.all(reads), ids.map((id) => `card:${id}`));
    assert.deepEqual(calls, [['id0', 'id1', 'id2', 'id3', 'id4']]);
    // Server-Timing: the call is one loader run.
    assert.equal(__renderState(astro).timings().length, 1);
    endRequest(astro);
  });

  it('instances that render later (after the first call went out) make a later call', async () => {
    const astro = fakeAstro();
    const { loader, calls } = cards();
    const first = getLoaderData(propsBind(instance(astro, { id: 'a' }), 'Card', loader));
    await first;
    const second = await getLoaderData(propsBind(instance(astro, { id: 'b' }), 'Card', loader));
    assert.equal(second, 'card:b');
    assert.deepEqual(calls, [['a'], ['b']]);
    endRequest(astro);
  });

  it('an Error entry fails only its instance; a wrong length or a throw fails every instance of the call', async () => {
    const astro = fakeAstro();
    const { loader } = cards();
    const good = getLoaderData(propsBind(instance(astro, { id: 'ok' }), 'Card', loader));
    const bad = getLoaderData(propsBind(instance(astro, { id: 'bad' }), 'Card', loader));
    assert.equal(await good, 'card:ok');
    await assert.rejects(bad, (error) => error instanceof Error && /loader of src\/components\/Card\.astro failed: no card bad/.test(error.message));
    const short = defineBatchLoader(async () => ['only one']);
    const a = getLoaderData(propsBind(instance(astro, { id: 1 }), 'Short', short));
    const b = getLoaderData(propsBind(instance(astro, { id: 2 }), 'Short', short));
    for (const read of [a, b]) await assert.rejects(read, /must return one result per entry \(2\), in order; got 1 results/);
    const throwing = defineBatchLoader(async () => {
      throw new Error('db down');
    });
    await assert.rejects(getLoaderData(propsBind(instance(astro, { id: 1 }), 'T', throwing)), /db down/);
    endRequest(astro);
  });

  it('maxBatchSize splits the instances over several calls', async () => {
    const astro = fakeAstro();
    const { loader, calls } = cards({ maxBatchSize: 2 });
    await Promise.all(['a', 'b', 'c'].map((id) => getLoaderData(propsBind(instance(astro, { id }), 'Card', loader))));
    assert.deepEqual(calls, [['a', 'b'], ['c']]);
    assert.throws(() => defineBatchLoader(async () => [], { maxBatchSize: 0 }), /maxBatchSize must be a positive integer/);
    endRequest(astro);
  });

  it('concurrent renders never share a call; the end of a render aborts its call', async () => {
    const { loader, calls } = cards();
    const one = async (path) => {
      const astro = fakeAstro(path);
      const value = await getLoaderData(propsBind(instance(astro, { id: 'same' }), 'Card', loader));
      endRequest(astro);
      return value;
    };
    assert.deepEqual(await Promise.all([one('/a'), one('/b')]), ['card:same', 'card:same']);
    assert.equal(calls.length, 2);
    const astro = fakeAstro();
    /** @type {AbortSignal | undefined} */
    let seen;
    const slow = defineBatchLoader((list, { signal }) => {
      seen = signal;
      return new Promise(() => {});
    });
    const read = getLoaderData(propsBind(instance(astro, { id: 1 }), 'Slow', slow));
    await ticks();
    endRequest(astro);
    await assert.rejects(read);
    assert.equal(seen?.aborted, true);
  });

  it('a call holds one concurrency slot: with concurrency 1, another loader starts after it', async () => {
    const astro = fakeAstro();
    /** @type {string[]} */
    const events = [];
    const batch = defineBatchLoader(async (list) => {
      events.push(`batch start ${list.length}`);
      await delay(5);
      events.push('batch end');
      return list.map((p) => p.id);
    });
    const other = async () => {
      events.push('other start');
      return 'other';
    };
    const reads = ['a', 'b'].map((id) => getLoaderData({ ...propsBind(instance(astro, { id }), 'B', batch), options: { concurrency: 1 } }));
    await new Promise((resolve) => setImmediate(resolve));
    const later = getLoaderData({ ...bind(astro, 'O', other), options: { concurrency: 1 } });
    assert.deepEqual(await Promise.all([...reads, later]), ['a', 'b', 'other']);
    assert.deepEqual(events, ['batch start 2', 'batch end', 'other start']);
    endRequest(astro);
  });

  it('called directly (outside astro-hoist), a batch loader is a batch of one', async () => {
    const { loader } = cards();
    assert.equal(await loader(/** @type {any} */ ({ props: { id: 'x' } })), 'card:x');
  });
});

describe('dataflow: loaders started once their props are known', () => {
  const instance = (astro, props) => ({ ...astro, props });
  const propsBind = (astro, key, loader) => ({ ...bind(astro, key, loader), props: true });
  /** A loader that records the props of each call and answers with them after `ms`. */
  function byProps(ms = 0) {
    const loader = async ({ props }) => {
      loader.seen.push(props);
      if (ms) await delay(ms);
      return { ...props };
    };
    loader.seen = [];
    return loader;
  }
  const data = (...path) => ({ t: 'get', b: { t: 'src', s: 'data' }, p: path.map((k) => ({ k })) });
  const props = (...path) => ({ t: 'get', b: { t: 'src', s: 'props' }, p: path.map((k) => ({ k })) });
  const obj = (fields) => ({ t: 'obj', p: Object.entries(fields).map(([k, v]) => ({ k, v })) });

  it('a child whose props come from its parent data starts when that data resolves; its render reads that run; other props get their own', async () => {
    const astro = fakeAstro('/flow-1');
    const parent = counting({ authorId: 'ada' }, 20);
    const child = byProps();
    __registerLoader('FlowParent', parent);
    __registerLoader('FlowChild', child);
    const flow = {
      id: 'FlowRoot',
      c: 'src/pages/x.astro',
      children: [{ id: 'FlowParent', c: component('FlowParent'), run: 'shared', props: obj({}), children: [{ id: 'FlowChild', c: component('FlowChild'), run: 'props', data: true, props: obj({ id: data('authorId') }) }] }],
    };
    __startBatch(astro, [entry('FlowParent', parent)], {}, undefined, /** @type {any} */ (flow));
    await delay(5);
    assert.equal(parent.calls, 1);
    assert.equal(child.seen.length, 0, 'waits for the parent data');
    await delay(30);
    await ticks();
    assert.deepEqual(child.seen, [{ id: 'ada' }], 'started with the traced props, before any render');
    assert.deepEqual(await getLoaderData(propsBind(instance(astro, { id: 'ada' }), 'FlowChild', child)), { id: 'ada' });
    assert.equal(child.seen.length, 1, 'the render reads the run the walk started');
    // Rendered with props the walk did not predict: a run of its own, never another's data.
    assert.deepEqual(await getLoaderData(propsBind(instance(astro, { id: 'bob' }), 'FlowChild', child)), { id: 'bob' });
    assert.equal(child.seen.length, 2);
    endRequest(astro);
  });

  it('lists start one run per distinct item props; a false condition, a failed evaluation and a failed parent start nothing', async () => {
    const astro = { ...fakeAstro('/flow-2'), props: { items: [{ u: 'a' }, { u: 'b' }, { u: 'a' }], show: false } };
    const items = byProps();
    const hidden = byProps();
    const broken = byProps();
    const failing = async () => {
      throw new Error('parent failed');
    };
    const below = byProps();
    for (const [key, loader] of Object.entries({ FlowItem: items, FlowHidden: hidden, FlowBroken: broken, FlowFailing: failing, FlowBelow: below })) __registerLoader(key, loader);
    const item = { t: 'get', b: { t: 'src', s: 'item' }, p: [{ k: 'u' }] };
    const flow = {
      id: 'FlowRoot2',
      c: 'src/pages/y.astro',
      children: [
        { id: 'FlowItem', c: component('FlowItem'), run: 'props', steps: [{ t: 'each', l: props('items') }], props: obj({ id: item }) },
        { id: 'FlowHidden', c: component('FlowHidden'), run: 'props', steps: [{ t: 'when', c: props('show') }], props: obj({}) },
        { id: 'FlowBroken', c: component('FlowBroken'), run: 'props', props: obj({ x: props('missing', 'deep') }) },
        { id: 'FlowFailing', c: component('FlowFailing'), run: 'shared', props: obj({}), children: [{ id: 'FlowBelow', c: component('FlowBelow'), run: 'props', data: true, props: obj({ v: data('v') }) }] },
      ],
    };
    __startBatch(astro, [], {}, undefined, /** @type {any} */ (flow));
    await delay(10);
    await ticks();
    assert.deepEqual(items.seen, [{ id: 'a' }, { id: 'b' }], 'two comments by one user: one run for that user');
    assert.equal(hidden.seen.length, 0);
    assert.equal(broken.seen.length, 0, 'where the render would throw, the render decides');
    assert.equal(below.seen.length, 0, 'a failed parent renders no children');
    // The same tree walked again (a layout's batch): nothing starts twice.
    __startBatch(astro, [], {}, undefined, /** @type {any} */ (flow));
    await ticks();
    assert.equal(items.seen.length, 2);
    endRequest(astro);
    await ticks();
    assert.deepEqual(unhandled, []);
  });

  it('dev: a loader that reads a prop its tag does not pass gets undefined, and the log names that tag; props that cannot be keyed wait for the render', async (t) => {
    const warn = t.mock.method(console, 'warn', () => {});
    const fn = () => 1;
    const astro = { ...fakeAstro('/flow-3'), props: { fns: [fn] } };
    const reads = async ({ props }) => ({ missing: props.missing ?? 'undefined' });
    const withFn = byProps();
    __registerLoader('FlowReads', reads);
    __registerLoader('FlowFn', withFn);
    const flow = {
      id: 'FlowRoot3',
      c: 'src/pages/z.astro',
      children: [
        { id: 'FlowReads', c: component('FlowReads'), u: 'src/pages/z.astro:7:3', run: 'props', props: obj({ id: { t: 'lit', v: '"a"' } }) },
        // A prop whose value is a function (the item of a list of functions) cannot be keyed.
        { id: 'FlowFn', c: component('FlowFn'), run: 'props', steps: [{ t: 'each', l: props('fns') }], props: obj({ f: { t: 'src', s: 'item' } }) },
      ],
    };
    __startBatch(astro, [], { dev: true }, undefined, /** @type {any} */ (flow));
    await ticks();
    assert.deepEqual(await getLoaderData(propsBind(instance(astro, { id: 'a' }), 'FlowReads', reads)), { missing: 'undefined' });
    const messages = warn.mock.calls.map((c) => String(c.arguments[0]));
    assert.ok(messages.some((m) => m.includes('props.missing') && m.includes('src/pages/z.astro:7:3')), messages.join('\n'));
    assert.equal(withFn.seen.length, 0, 'nothing started early for props that cannot be keyed');
    // At render: one run per instance, and a note that says why.
    await Promise.all([1, 2].map(() => getLoaderData(propsBind(instance(astro, { f: fn }), 'FlowFn', withFn))));
    assert.equal(withFn.seen.length, 2);
    assert.ok(warn.mock.calls.some((c) => String(c.arguments[0]).includes('cannot be compared')));
    endRequest(astro);
  });
});
