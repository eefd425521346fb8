// The baseline for examples/demo.js: the same components, run the way plain Astro runs them.
//
// Without astro-hoist a component would write
//     const post = await loader({ params: Astro.params, url: Astro.url, request: Astro.request,
//                                 locals: Astro.locals, signal: Astro.request.signal });
// in its frontmatter: the loader starts when that component renders, i.e. only after every
// ancestor (and, for slot content, the enclosing component) has finished its own awaits, and it
// runs once per rendered component. That is the waterfall astro-hoist removes.
//
// To keep one copy of src/, this Vite plugin turns each component's `getLoaderData<...>()` into
// exactly that line. In the raw `.astro` source it points the `astro-hoist/runtime` import at
// ./plain-runtime.mjs, whose getLoaderData calls the loader it is handed there and then (no batch,
// no registry, no middleware), and it hands each call its component's `Astro` and module-level
// `loader`, the only two things the line above uses. Nothing of astro-hoist is loaded in this
// variant (the built dist/ does not mention it).
import { fileURLToPath } from 'node:url';

const RUNTIME = fileURLToPath(new URL('./plain-runtime.mjs', import.meta.url));
const RUNTIME_IMPORT = /(\bfrom\s*)(['"])astro-hoist\/runtime\2/g;
// `getLoaderData()` or `getLoaderData<typeof loader>()`, as the example's components write it.
const CALL = /\bgetLoaderData\s*(?:<[^<>()]*>)?\s*\(\s*\)/g;

export function plainLoaders() {
  return {
    name: 'blog-example:plain-loaders',
    transform: {
      // 'pre': rewrite the raw .astro source, before Astro compiles it. The specifier is
      // rewritten here rather than in resolveId because in dev Vite loads the installed package
      // for SSR without asking plugins. Sub-modules (`?astro&type=style`) fail the filter.
      order: /** @type {const} */ ('pre'),
      filter: { id: /\.astro$/ },
      /** @param {string} code @param {string} id */
      handler(code, id) {
        if (!id.endsWith('.astro')) return null;
        const plain = code
          .replace(RUNTIME_IMPORT, (_, from) => `${from}${JSON.stringify(RUNTIME)}`)
          .replace(CALL, 'getLoaderData({ astro: Astro, loader })');
        return plain === code ? null : { code: plain, map: null };
      },
    },
  };
}
