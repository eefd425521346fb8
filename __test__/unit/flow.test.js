// Unit tests of the dataflow expression evaluator (js/flow.js): JavaScript's semantics for what
// the core traces, and a refusal where the core's proof does not hold at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, forEachInstance } from '../../js/flow.js';

/** @type {import('../../js/flow.js').Env} */
const env = {
  data: { post: { author: null, tags: ['a', 'b'], n: 2 }, extra: { x: 1 } },
  props: { id: 'p1' },
  params: { slug: 'hello' },
  url: new URL('http://127.0.0.1/x?q=1'),
  items: [],
  indexes: [],
};
const lit = (v) => ({ t: 'lit', v: JSON.stringify(v) });
const get = (s, ...p) => ({ t: 'get', b: { t: 'src', s }, p: p.map((m) => (typeof m === 'string' ? { k: m } : m)) });

test('member chains: optional members short-circuit the whole chain; a plain one throws as JavaScript would', () => {
  assert.equal(evaluate(/** @type {any} */ (get('data', 'post', { k: 'author', o: false }, { k: 'id', o: true }, 'name')), env), undefined);
  assert.throws(() => evaluate(/** @type {any} */ (get('data', 'post', 'author', 'id')), env), TypeError);
  assert.equal(evaluate(/** @type {any} */ (get('url', 'searchParams', { k: 'get', a: [lit('q')] })), env), '1');
  assert.equal(evaluate(/** @type {any} */ (get('data', 'post', 'tags', { k: 'join', a: [lit('-')] })), env), 'a-b');
});

test('only the pure methods the core allows, on receivers that cannot run user code', () => {
  const data = { ...env, data: { get: () => 'side effect', list: Object.assign(Object.create({ join: () => 'x' }), { length: 0 }) } };
  assert.throws(() => evaluate(/** @type {any} */ ({ t: 'get', b: { t: 'src', s: 'data' }, p: [{ k: 'get', a: [] }] }), data), /not a pure call/);
  assert.throws(() => evaluate(/** @type {any} */ (get('data', 'list', { k: 'join', a: [] })), data), /not a pure call/);
  assert.throws(() => evaluate(/** @type {any} */ (get('params', { k: 'constructor', a: [] })), env), /not a pure call/);
});

test('operators, templates, defaults and objects as JavaScript computes them', () => {
  const f = /** @type {any} */ ({
    t: 'obj',
    p: [
      { k: 'a', v: { t: 'bin', op: '??', l: get('data', 'post', 'author'), r: lit('anon') } },
      { k: 'b', v: { t: 'tpl', q: ['/', '/', ''], e: [get('params', 'slug'), get('data', 'post', 'n')] } },
      { k: 'c', v: { t: 'def', e: get('props', 'missing'), d: lit(3) } },
      { k: 'd', v: { t: 'cond', c: { t: 'bin', op: '>', l: get('data', 'post', 'n'), r: lit(1) }, a: lit('big'), b: lit('small') } },
      { k: '__proto__', v: lit('a prop, not a prototype') },
      { v: get('data', 'extra') },
      { k: 'e', v: { t: 'call', f: 'Number', a: [lit('42')] } },
    ],
  });
  const out = /** @type {Record<string, unknown>} */ (evaluate(f, env));
  assert.deepEqual({ ...out }, { a: 'anon', b: '/hello/2', c: 3, d: 'big', ['__proto__']: 'a prop, not a prototype', x: 1, e: 42 });
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
});

test('forEachInstance: conditions gate, lists bind their item and index, in order', () => {
  /** @type {unknown[]} */
  const seen = [];
  const steps = /** @type {any} */ ([
    { t: 'when', c: get('props', 'id') },
    { t: 'each', l: get('data', 'post', 'tags') },
    { t: 'when', c: { t: 'bin', op: '!==', l: { t: 'src', s: 'item' }, r: lit('b') } },
  ]);
  forEachInstance(steps, env, (e) => seen.push([e.items[0], e.indexes[0]]));
  assert.deepEqual(seen, [['a', 0]]);
  forEachInstance(/** @type {any} */ ([{ t: 'each', l: get('params', 'slug') }]), env, (e) => seen.push(e));
  assert.equal(seen.length, 1, 'a list that is not an array is left to the render');
});
