// Stands in for `astro-hoist/runtime` in the plain-Astro baseline (see plain-loaders.mjs):
// `await getLoaderData({ astro: Astro, loader })` is `await loader({ ...Astro fields, signal })`,
// run when and where the component renders, every time it renders.

/**
 * @param {{ astro: { params: Record<string, string | undefined>, url: URL, request: Request, locals: object },
 *           loader: (context: object) => unknown }} bind
 */
export function getLoaderData({ astro, loader }) {
  const { params, url, request, locals } = astro;
  return Promise.resolve(loader({ params, url, request, locals, signal: request.signal }));
}

/** @template T @param {T} loader */
export function defineLoader(loader) {
  return loader;
}
