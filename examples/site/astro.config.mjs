// The example blog, built in one of three variants (examples/demo.js builds each from this same
// src/). Pick one with BLOG_VARIANT at build time:
//   hoist        (default) the astro-hoist integration: each page starts every loader of its
//                component tree in one batch per request
//   speculative  the same with `speculative: true`: loaders of conditional children (`{a && <B/>}`,
//                `{list.map(...)}`) start in that batch too
//   plain        no astro-hoist at all: plain Astro, each component awaits its own loader in its
//                frontmatter when it renders (see baseline/plain-loaders.mjs for how)
import node from '@astrojs/node';
import { defineConfig } from 'astro/config';

const variant = process.env.BLOG_VARIANT ?? 'hoist';
if (!['hoist', 'speculative', 'plain'].includes(variant)) {
  throw new Error(`BLOG_VARIANT must be hoist, speculative or plain, got ${JSON.stringify(variant)}`);
}

// Only the hoisting variants load astro-hoist; the baseline never imports it.
const integrations = [];
const vitePlugins = [];
if (variant === 'plain') {
  const { plainLoaders } = await import('./baseline/plain-loaders.mjs');
  vitePlugins.push(plainLoaders());
} else {
  const { default: hoist } = await import('astro-hoist');
  integrations.push(hoist(variant === 'speculative' ? { speculative: true } : {}));
}

export default defineConfig({
  output: 'server',
  adapter: node({ mode: 'standalone' }),
  integrations,
  vite: { plugins: vitePlugins },
  devToolbar: { enabled: false },
});
