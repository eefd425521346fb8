// The evaluator of the core's dataflow expressions (crates/core/src/flow.rs): how a tag's props
// are made from its writer's loader data, props, the route's params and URL, and the items of
// the `.map` it is rendered in. The core proves an expression is made only of these and of
// operators without effects; this file computes it when the sources are known.
//
// Written by hand: it is a fixed, tiny expression language (JSON from the core), and
// evaluating it must cost well under a microsecond per tag, which an interpreter over plain
// objects does.

/**
 * @typedef {{ t: 'lit', v: string, value?: unknown }
 *   | { t: 'undef' }
 *   | { t: 'src', s: 'data' | 'props' | 'params' | 'url' | 'item' | 'index', n?: number }
 *   | { t: 'get', b: Flow, p: Member[] }
 *   | { t: 'tpl', q: string[], e: Flow[] }
 *   | { t: 'bin', op: string, l: Flow, r: Flow }
 *   | { t: 'un', op: string, e: Flow }
 *   | { t: 'cond', c: Flow, a: Flow, b: Flow }
 *   | { t: 'obj', p: { k?: string, v: Flow }[] }
 *   | { t: 'arr', i: Flow[] }
 *   | { t: 'def', e: Flow, d: Flow }
 *   | { t: 'call', f: 'String' | 'Number' | 'Boolean', a: Flow[] }} Flow
 * @typedef {{ k?: string, e?: Flow, o?: boolean, a?: Flow[] }} Member
 * @typedef {{ t: 'when', c: Flow } | { t: 'each', l: Flow }} Step
 * @typedef {object} FlowNode one component instance of a root's tree
 * @property {string} id the component's key
 * @property {string} c its root-relative path
 * @property {string} [u] where the tag that renders it is written (file:line:column)
 * @property {'shared' | 'props'} [run] how its loader runs; none: no loader to start
 * @property {Flow} [props] its props, from its writer's values
 * @property {Step[]} [steps] what decides whether (and for which items) it renders
 * @property {boolean} [data] whether its props or steps read its writer's loader data
 * @property {FlowNode[]} [children]
 * @typedef {object} Env what an expression may read
 * @property {unknown} data the writer's loader data
 * @property {unknown} props the writer's props
 * @property {unknown} params
 * @property {unknown} url
 * @property {unknown[]} items the items of the enclosing `.map`s, outermost first
 * @property {number[]} indexes their indexes
 */

/** Methods the core lets an expression call, on receivers that cannot run user code for them. */
const PURE = new Set(['get', 'has', 'slice', 'at', 'join', 'includes', 'startsWith', 'endsWith', 'toLowerCase', 'toUpperCase', 'trim', 'toString', 'split', 'padStart', 'padEnd', 'indexOf', 'getAll']);

/**
 * @param {unknown} receiver
 * @param {string} name
 */
function pureReceiver(receiver, name) {
  if (!PURE.has(name)) return false;
  if (typeof receiver === 'string' || typeof receiver === 'number') return true;
  if (Array.isArray(receiver)) return Object.getPrototypeOf(receiver) === Array.prototype;
  return receiver instanceof URLSearchParams;
}

/**
 * The value of `flow` in `env`. Throws where JavaScript would (a member of `undefined`), and on
 * a call the core did not prove pure at this receiver: the caller then leaves the instance to
 * its render.
 * @param {Flow} flow
 * @param {Env} env
 * @returns {unknown}
 */
export function evaluate(flow, env) {
  switch (flow.t) {
    case 'lit':
      if (!('value' in flow)) flow.value = JSON.parse(flow.v);
      return flow.value;
    case 'undef':
      return undefined;
    case 'src':
      switch (flow.s) {
        case 'data':
          return env.data;
        case 'props':
          return env.props;
        case 'params':
          return env.params;
        case 'url':
          return env.url;
        case 'item':
          return env.items[flow.n ?? 0];
        case 'index':
          return env.indexes[flow.n ?? 0];
      }
      throw new TypeError(`unknown source ${/** @type {{ s: string }} */ (flow).s}`);
    case 'get': {
      /** @type {any} */
      let value = evaluate(flow.b, env);
      for (const m of flow.p) {
        if (m.o && value == null) return undefined;
        const key = m.k ?? /** @type {PropertyKey} */ (evaluate(/** @type {Flow} */ (m.e), env));
        if (m.a) {
          if (typeof key !== 'string' || !pureReceiver(value, key)) throw new TypeError(`not a pure call: .${String(key)}()`);
          value = value[key](...m.a.map((a) => evaluate(a, env)));
        } else {
          value = value[key];
        }
      }
      return value;
    }
    case 'tpl': {
      let out = flow.q[0] ?? '';
      for (let i = 0; i < flow.e.length; i++) out += `${evaluate(flow.e[i], env)}${flow.q[i + 1] ?? ''}`;
      return out;
    }
    case 'bin': {
      /** @type {any} */
      const l = evaluate(flow.l, env);
      if (flow.op === '&&') return l ? evaluate(flow.r, env) : l;
      if (flow.op === '||') return l ? l : evaluate(flow.r, env);
      if (flow.op === '??') return l ?? evaluate(flow.r, env);
      /** @type {any} */
      const r = evaluate(flow.r, env);
      switch (flow.op) {
        case '==':
          return l == r;
        case '!=':
          return l != r;
        case '===':
          return l === r;
        case '!==':
          return l !== r;
        case '<':
          return l < r;
        case '<=':
          return l <= r;
        case '>':
          return l > r;
        case '>=':
          return l >= r;
        case '+':
          return l + r;
        case '-':
          return l - r;
        case '*':
          return l * r;
        case '/':
          return l / r;
        case '%':
          return l % r;
      }
      throw new TypeError(`unknown operator ${flow.op}`);
    }
    case 'un': {
      /** @type {any} */
      const e = evaluate(flow.e, env);
      switch (flow.op) {
        case '!':
          return !e;
        case '-':
          return -e;
        case '+':
          return +e;
        case 'typeof':
          return typeof e;
      }
      throw new TypeError(`unknown operator ${flow.op}`);
    }
    case 'cond':
      return evaluate(flow.c, env) ? evaluate(flow.a, env) : evaluate(flow.b, env);
    case 'obj': {
      /** @type {Record<string, unknown>} */
      let out = {};
      for (const p of flow.p) {
        const value = evaluate(p.v, env);
        if (p.k === undefined) out = { ...out, .../** @type {object} */ (value) };
        // defineProperty for `__proto__`: a prop of that name is a prop, as in Astro.props.
        else if (p.k === '__proto__') Object.defineProperty(out, p.k, { value, enumerable: true, writable: true, configurable: true });
        else out[p.k] = value;
      }
      return out;
    }
    case 'arr':
      return flow.i.map((i) => evaluate(i, env));
    case 'def': {
      const e = evaluate(flow.e, env);
      return e === undefined ? evaluate(flow.d, env) : e;
    }
    case 'call': {
      const args = flow.a.map((a) => evaluate(a, env));
      if (flow.f === 'String') return args.length === 0 ? '' : String(args[0]);
      if (flow.f === 'Number') return args.length === 0 ? 0 : Number(args[0]);
      return Boolean(args[0]);
    }
  }
  throw new TypeError(`unknown expression ${/** @type {{ t: string }} */ (flow).t}`);
}

/**
 * Calls `visit` once for every instance the steps render, with the environment (items bound)
 * it renders in, valid only during the call; none when a condition is false or a list is not an
 * array. Throws where the render would.
 * @param {Step[] | undefined} steps
 * @param {Env} env
 * @param {(env: Env) => void} visit
 * @param {number} [from]
 */
export function forEachInstance(steps, env, visit, from = 0) {
  if (!steps || from >= steps.length) {
    visit(env);
    return;
  }
  const step = steps[from];
  if (step.t === 'when') {
    if (evaluate(step.c, env)) forEachInstance(steps, env, visit, from + 1);
    return;
  }
  const list = evaluate(step.l, env);
  // `.map` on anything else than an array is the render's business.
  if (!Array.isArray(list)) return;
  // One environment for every item: `visit` reads it synchronously, so the item is set in place.
  const level = env.items.length;
  const inner = { ...env, items: [...env.items, undefined], indexes: [...env.indexes, 0] };
  for (let i = 0; i < list.length; i++) {
    inner.items[level] = list[i];
    inner.indexes[level] = i;
    forEachInstance(steps, inner, visit, from + 1);
  }
}
