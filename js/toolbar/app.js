// The astro-hoist dev toolbar app (runs in the browser, in Astro's dev toolbar): the loaders of
// the page's last request as a timeline — one row per loader with its planned wave and a bar
// from its actual start to its end, from the request's arrival — marks for cached, deferred,
// failed and render-time runs, and the loaders that could not be hoisted with the reason. A
// component's name opens it in the editor. Asks the dev server (toolbar/server.js) on load, on
// each client-router navigation, after HMR and when the server says the page got new runs.
//
// Plain DOM in the app's canvas (a shadow root); styles as a constructed sheet, which a page's
// content security policy does not govern.

/** Keep in step with toolbar/server.js. */
const EVENTS = {
  get: 'astro-hoist:toolbar:get',
  timeline: 'astro-hoist:toolbar:timeline',
  changed: 'astro-hoist:toolbar:changed',
};

/**
 * @typedef {import('./server.js').Timeline} Timeline
 * @typedef {import('./server.js').TimelineLoader} TimelineLoader
 * @typedef {import('./server.js').TimelineRun} TimelineRun
 * @typedef {{ send(event: string, payload: unknown): void, on(event: string, callback: (data: any) => void): void }} ServerHelpers
 * @typedef {{ onToggled(callback: (options: { state: boolean }) => void): void }} AppEvents
 */

const CSS = `
astro-dev-toolbar-window { width: min(860px, 100%); max-height: min(560px, calc(100vh - 96px)); }
.hoist { display: flex; flex-direction: column; gap: 12px; min-height: 0; overflow: auto; font-size: 13px; color: #bfc1c9; }
.hoist header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px; }
.hoist h1 { margin: 0; font-size: 18px; font-weight: 600; color: #fff; }
.hoist h2 { margin: 4px 0; font-size: 14px; font-weight: 600; color: #fff; }
.hoist .route { font-family: ui-monospace, Menlo, monospace; color: #fff; }
.hoist .summary { color: #9ca0ab; }
.hoist .empty, .hoist .error { margin: 0; color: #9ca0ab; }
.hoist .error { color: #f4a3bd; }
.hoist .timeline { display: grid; grid-template-columns: minmax(150px, max-content) 86px 1fr; gap: 4px 10px; align-items: center; }
.hoist .axis { grid-column: 3; position: relative; height: 16px; color: #7d818c; font-size: 11px; border-bottom: 1px solid #343841; }
.hoist .axis span { position: absolute; top: 0; transform: translateX(-50%); white-space: nowrap; }
.hoist .axis span:first-child { transform: none; }
.hoist .axis span:last-child { transform: translateX(-100%); }
.hoist .head { font-size: 11px; color: #7d818c; text-transform: uppercase; letter-spacing: .04em; }
.hoist button.component { all: unset; cursor: pointer; font-family: ui-monospace, Menlo, monospace; font-size: 12px; color: #fff; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 260px; }
.hoist button.component:hover, .hoist button.component:focus-visible { color: #d8b4fe; text-decoration: underline; }
.hoist .wave { font-size: 12px; white-space: nowrap; }
.hoist .wave b { color: #fff; font-weight: 600; }
.hoist .wave small { color: #7d818c; margin-left: 4px; }
.hoist .track { position: relative; height: 20px; border-radius: 4px; background: repeating-linear-gradient(90deg, transparent 0 calc(25% - 1px), #262930 calc(25% - 1px) 25%); }
.hoist .bar { position: absolute; top: 4px; height: 12px; min-width: 2px; border-radius: 3px; background: #8b5cf6; }
.hoist .bar.w1 { background: #a78bfa; }
.hoist .bar.late { background: #60a5fa; }
.hoist .bar.render { background: #f59e0b; }
.hoist .bar.cached { background: #6b7280; }
.hoist .bar.deferred { background: repeating-linear-gradient(135deg, #34d399 0 4px, #10b981 4px 8px); }
.hoist .bar.failed { background: #f43f5e; }
.hoist .request { position: absolute; top: 0; bottom: 0; border-left: 1px dashed #9ca0ab; }
.hoist .marks { position: absolute; top: 2px; display: flex; gap: 4px; white-space: nowrap; }
.hoist .mark { font-size: 10px; line-height: 14px; padding: 0 5px; border-radius: 7px; background: #343841; color: #e5e7eb; }
.hoist .mark.failed { background: #881337; color: #ffe4e6; }
.hoist .mark.cached { background: #374151; }
.hoist .mark.deferred { background: #065f46; color: #d1fae5; }
.hoist .mark.render { background: #78350f; color: #fef3c7; }
.hoist .legend { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 11px; color: #9ca0ab; }
.hoist .legend i { display: inline-block; width: 10px; height: 8px; border-radius: 2px; margin-right: 4px; }
.hoist ul { margin: 0; padding: 0; list-style: none; display: flex; flex-direction: column; gap: 6px; }
.hoist li { display: flex; flex-wrap: wrap; gap: 2px 10px; align-items: baseline; }
.hoist .reason { color: #d1d5db; }
.hoist button.where { all: unset; cursor: pointer; font-family: ui-monospace, Menlo, monospace; font-size: 11px; color: #9ca0ab; }
.hoist button.where:hover, .hoist button.where:focus-visible { color: #d8b4fe; text-decoration: underline; }
`;

/**
 * A pathname as the server keys it.
 * @param {string} pathname
 */
function normalizePath(pathname) {
  let out = pathname || '/';
  try {
    out = decodeURI(out);
  } catch {
    // kept as is
  }
  return out.length > 1 ? out.replace(/\/+$/, '') || '/' : out;
}

/**
 * `tag` with attributes and children.
 * @param {string} tag
 * @param {Record<string, string>} [attributes]
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElement}
 */
function h(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

/** @param {number} ms */
function ms(ms) {
  return `${ms < 10 ? Math.round(ms * 10) / 10 : Math.round(ms)} ms`;
}

/**
 * A component's short name: its path without `src/`.
 * @param {string} component
 */
function label(component) {
  return component.replace(/^src\//, '');
}

/**
 * Asks the editor to open `file` (`path:line:column`), through the dev server's endpoint.
 * @param {string} file
 */
function openInEditor(file) {
  if (!file) return;
  fetch(`/__open-in-editor?file=${encodeURIComponent(file)}`).catch(() => {});
}

/**
 * A clickable component name.
 * @param {TimelineLoader | { component: string, file: string }} loader
 */
function componentButton(loader) {
  const button = h('button', { class: 'component', type: 'button', title: `${loader.component}: open in editor`, 'data-file': loader.file }, [label(loader.component)]);
  button.addEventListener('click', () => openInEditor(loader.file));
  return button;
}

/**
 * A round scale end for `max` ms.
 * @param {number} max
 */
function scaleOf(max) {
  const steps = [5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000];
  return steps.find((step) => step >= max) ?? Math.ceil(max / 10000) * 10000;
}

/**
 * The marks of a row: what its runs say beyond their times.
 * @param {TimelineLoader} loader
 * @returns {{ text: string, kind: string, title?: string }[]}
 */
function marksOf(loader) {
  /** @type {{ text: string, kind: string, title?: string }[]} */
  const marks = [];
  if (loader.runs.length === 0) marks.push({ text: loader.conditional ? 'not rendered' : 'not run', kind: 'none' });
  if (loader.runs.length > 1) marks.push({ text: `×${loader.runs.length} runs`, kind: 'count' });
  const caches = [...new Set(loader.runs.map((run) => run.cache).filter(Boolean))];
  if (caches.length > 0) marks.push({ text: `cache ${caches.join('/')}`, kind: 'cached' });
  if (loader.runs.some((run) => run.deferred)) marks.push({ text: 'deferred', kind: 'deferred' });
  if (loader.runs.some((run) => run.origin === 'render') && loader.hoisted) marks.push({ text: 'started at render', kind: 'render' });
  const failed = loader.runs.filter((run) => !run.ok);
  if (failed.length > 0) marks.push({ text: 'failed', kind: 'failed', title: failed.map((run) => run.error ?? 'failed').join('\n') });
  return marks;
}

/**
 * The bar class of one run.
 * @param {TimelineLoader} loader
 * @param {TimelineRun} run
 */
function barClass(loader, run) {
  if (!run.ok) return 'bar failed';
  if (run.deferred) return 'bar deferred';
  if (run.cache === 'hit' || run.cache === 'stale') return 'bar cached';
  if (!loader.hoisted || run.origin === 'render') return 'bar render';
  return loader.wave === 1 ? 'bar w1' : 'bar late';
}

/**
 * Renders a timeline into `root`.
 * @param {HTMLElement} root
 * @param {Timeline} timeline
 */
function render(root, timeline) {
  const runs = timeline.loaders.flatMap((loader) => loader.runs);
  const last = Math.max(1, timeline.request?.end ?? 0, ...runs.map((run) => run.end));
  const scale = scaleOf(last);
  const at = (/** @type {number} */ t) => `${Math.max(0, Math.min(100, (t / scale) * 100))}%`;
  const waves = new Set(timeline.loaders.map((loader) => loader.wave).filter((wave) => wave !== null));
  const summary = [
    `${timeline.loaders.length} loader${timeline.loaders.length === 1 ? '' : 's'}`,
    timeline.depth ? `${timeline.depth.depthAfter} wave${timeline.depth.depthAfter === 1 ? '' : 's'} (plain Astro: ${timeline.depth.depthBefore})` : `${waves.size} waves`,
    timeline.request?.end != null ? `response ${ms(timeline.request.end)}` : timeline.request ? 'response streaming' : 'no request yet',
  ];
  /** @type {Node[]} */
  const body = [
    h('header', {}, [
      h('h1', {}, ['astro-hoist']),
      h('span', { class: 'route', 'data-route': timeline.route ?? '' }, [timeline.route ? `${timeline.path} → ${timeline.entry}` : timeline.path]),
      h('span', { class: 'summary' }, [summary.join(' · ')]),
    ]),
  ];
  if (timeline.error) body.push(h('p', { class: 'error' }, [`No plan: ${timeline.error}`]));
  if (timeline.loaders.length === 0) {
    body.push(h('p', { class: 'empty' }, [timeline.request ? 'This page runs no loader.' : 'Reload the page to see its loaders.']));
  } else {
    const grid = h('div', { class: 'timeline', role: 'table', 'aria-label': 'loaders of the last request' });
    const axis = h('div', { class: 'axis' }, [0, scale / 4, scale / 2, (scale * 3) / 4, scale].map((t) => {
      const tick = h('span', {}, [ms(t)]);
      tick.style.left = at(t);
      return tick;
    }));
    grid.append(h('span', { class: 'head' }, ['component']), h('span', { class: 'head' }, ['planned']), axis);
    for (const loader of timeline.loaders) {
      const wave = h('span', { class: 'wave' }, loader.wave === null ? ['not planned'] : [h('b', {}, [`wave ${loader.wave}`]), ...(loader.waveBefore !== null && loader.waveBefore !== loader.wave ? [h('small', { title: 'its round in plain Astro' }, [`was ${loader.waveBefore}`])] : [])]);
      if (loader.reason) wave.title = loader.reason;
      const track = h('div', { class: 'track' });
      for (const run of loader.runs) {
        const bar = h('div', { class: barClass(loader, run), 'data-start': String(run.start), 'data-end': String(run.end) });
        bar.style.left = at(run.start);
        bar.style.width = `calc(${at(run.end)} - ${at(run.start)})`;
        bar.title = `${label(loader.component)}: ${ms(run.start)} → ${ms(run.end)} (${ms(run.end - run.start)})${run.cache ? `, cache ${run.cache}` : ''}${run.deferred ? ', deferred' : ''}${run.error ? `, failed: ${run.error}` : ''}`;
        track.append(bar);
      }
      if (timeline.request?.end != null) {
        const line = h('div', { class: 'request', title: `response finished at ${ms(timeline.request.end)}` });
        line.style.left = at(timeline.request.end);
        track.append(line);
      }
      const marks = marksOf(loader);
      if (marks.length > 0) {
        const box = h('div', { class: 'marks' }, marks.map((mark) => h('span', { class: `mark ${mark.kind}`, ...(mark.title ? { title: mark.title } : {}) }, [mark.text])));
        const start = Math.min(...loader.runs.map((run) => run.start), Infinity);
        const end = Math.max(0, ...loader.runs.map((run) => run.end));
        // After the bars when there is room, else before them, else over their end.
        if (end / scale < 0.7) box.style.left = `calc(${at(end)} + 6px)`;
        else if (start / scale > 0.3) box.style.right = `calc(100% - ${at(start)} + 6px)`;
        else box.style.right = `calc(100% - ${at(end)} + 4px)`;
        track.append(box);
      }
      const row = [componentButton(loader), wave, track];
      for (const cell of row) {
        cell.setAttribute('data-component', loader.component);
      }
      const group = h('div', {
        class: 'row',
        role: 'row',
        'data-component': loader.component,
        'data-wave': loader.wave === null ? '' : String(loader.wave),
        'data-hoisted': String(loader.hoisted),
        'data-runs': String(loader.runs.length),
        'data-marks': marks.map((mark) => mark.text).join(','),
      });
      group.style.display = 'contents';
      group.append(...row);
      grid.append(group);
    }
    body.push(grid);
    body.push(
      h('div', { class: 'legend' }, [
        ...[
          ['#a78bfa', 'wave 1'],
          ['#60a5fa', 'later wave'],
          ['#f59e0b', 'at render'],
          ['#6b7280', 'cached'],
          ['#10b981', 'deferred'],
          ['#f43f5e', 'failed'],
        ].map(([color, text]) => {
          const swatch = h('i');
          swatch.style.background = color;
          return h('span', {}, [swatch, text]);
        }),
        h('span', {}, ['dashed line: response end']),
      ]),
    );
  }
  if (timeline.notHoisted.length > 0) {
    body.push(
      h('section', { class: 'not-hoisted' }, [
        h('h2', {}, [`Not hoisted (${timeline.notHoisted.length})`]),
        h(
          'ul',
          {},
          timeline.notHoisted.map((item) => {
            /** @type {Node[]} */
            const parts = [componentButton(item), h('span', { class: 'reason' }, [item.reason])];
            if (item.at && item.atFile) {
              const where = h('button', { class: 'where', type: 'button', title: `${item.at}: open in editor`, 'data-file': item.atFile }, [item.at]);
              const file = item.atFile;
              where.addEventListener('click', () => openInEditor(file));
              parts.push(where);
            }
            return h('li', { 'data-component': item.component, 'data-code': item.code }, parts);
          }),
        ),
      ]),
    );
  }
  root.replaceChildren(...body);
  root.setAttribute('data-path', timeline.path);
  root.setAttribute('data-loaded', String(Date.now()));
}

export default {
  id: 'astro-hoist',
  name: 'astro-hoist loaders',
  /**
   * @param {ShadowRoot} canvas
   * @param {AppEvents} app
   * @param {ServerHelpers} server
   */
  init(canvas, app, server) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    canvas.adoptedStyleSheets = [...canvas.adoptedStyleSheets, sheet];
    const root = h('div', { class: 'hoist', id: 'astro-hoist-timeline' }, [h('p', { class: 'empty' }, ['Loading…'])]);
    const panel = h('astro-dev-toolbar-window', {}, [root]);
    canvas.append(panel);

    let active = false;
    let stale = true;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let asking;
    // Several reasons to ask often come together (a navigation's swap and page-load): one question.
    const ask = () => {
      stale = true;
      if (!active || asking !== undefined) return;
      asking = setTimeout(() => {
        asking = undefined;
        stale = false;
        server.send(EVENTS.get, { path: location.pathname });
      }, 20);
    };
    server.on(EVENTS.timeline, (/** @type {Timeline} */ timeline) => {
      if (timeline && normalizePath(timeline.path) === normalizePath(location.pathname)) render(root, timeline);
    });
    server.on(EVENTS.changed, (/** @type {{ path: string | null }} */ data) => {
      if (!data || data.path === null || normalizePath(data.path) === normalizePath(location.pathname)) ask();
    });
    app.onToggled(({ state }) => {
      active = state;
      if (state && stale) ask();
    });
    // A client-router navigation keeps the toolbar: the new page's request is the one to show.
    // Astro 5 empties every app canvas when it moves the toolbar into the new page: put the
    // panel back (the constructed sheet stays adopted).
    const attach = () => {
      if (panel.parentNode !== canvas) canvas.append(panel);
    };
    for (const event of ['astro:after-swap', 'astro:page-load']) {
      document.addEventListener(event, () => {
        attach();
        ask();
      });
    }
    // After HMR the plan may have changed.
    const hot = /** @type {{ hot?: { on(event: string, callback: () => void): void } }} */ (/** @type {unknown} */ (import.meta)).hot;
    hot?.on('vite:afterUpdate', ask);
  },
};
