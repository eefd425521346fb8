// The example blog's data API: a small JSON service on 127.0.0.1 whose every answer takes
// `delayMs` (50 ms by default), like a database or CMS across a network. The site's loaders read
// its base URL from the BLOG_API environment variable.
//
//   node blog-api.mjs     # listens on 127.0.0.1:4322, the URL src/lib/api.ts defaults to
//   npx astro dev         # in another terminal
//
// It also records every call (path and arrival time) so examples/demo.js can count how many
// loaders a page runs and in how many waves their requests arrived.
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const AUTHORS = {
  ada: { id: 'ada', name: 'Ada Byron', bio: 'Writes about compilers and the people who build them.' },
  lin: { id: 'lin', name: 'Lin Park', bio: 'Performance engineer; measures before guessing.' },
};

const STATS = {
  ada: { posts: 42, followers: 1830, since: 2019 },
  lin: { posts: 17, followers: 960, since: 2022 },
};

const POSTS = [
  {
    slug: 'waterfalls',
    title: 'Why nested components wait for each other',
    date: '2026-10-02',
    author: 'lin',
    tags: ['performance', 'astro'],
    body: [
      'A child component only starts rendering when its parent has finished its frontmatter.',
      'Three levels that each fetch something pay for three round trips, one after another.',
    ],
  },
  {
    slug: 'loaders',
    title: 'Co-locating data with the component that shows it',
    date: '2026-10-19',
    author: 'ada',
    tags: ['astro', 'architecture'],
    body: ['Prop drilling moves every fetch to the page.', 'Loaders keep the fetch next to the markup.'],
  },
  {
    slug: 'parsing-astro',
    title: 'Parsing .astro files with swc',
    date: '2026-11-04',
    author: 'ada',
    tags: ['rust', 'compilers'],
    body: ['The frontmatter is TypeScript; the template is not.', 'Spans are bytes; editors count UTF-16.'],
  },
  {
    slug: 'measuring',
    title: 'Median, not mean',
    date: '2026-11-20',
    author: 'lin',
    tags: ['performance'],
    body: ['One slow request says little.', 'Fifteen, side by side, say more.'],
  },
];

const VIEWS = { waterfalls: 5120, loaders: 2210, 'parsing-astro': 987, measuring: 143 };

/** @param {string} tag */
function postsTagged(tag) {
  return POSTS.filter((post) => post.tags.includes(tag)).map(summary);
}

/** @param {(typeof POSTS)[number]} post */
function summary({ slug, title, date, tags }) {
  return { slug, title, date, tags };
}

function tagCounts() {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const post of POSTS) for (const tag of post.tags) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  return [...counts].map(([tag, count]) => ({ tag, count })).sort((a, b) => b.count - a.count || a.tag.localeCompare(b.tag));
}

/**
 * The answer for one path, or undefined for 404.
 * @param {string} pathname
 * @returns {unknown}
 */
function answer(pathname) {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const [first, second, third, fourth] = parts;
  if (first === 'site' && parts.length === 1) {
    return { name: 'Field Notes', nav: [{ href: '/', label: 'Posts' }, { href: '/tags/performance', label: 'Performance' }] };
  }
  if (first === 'announcement' && parts.length === 1) {
    return { text: 'New: every post now loads in one round trip.' };
  }
  if (first === 'views' && parts.length === 1) return VIEWS;
  if (first === 'posts') {
    if (parts.length === 1) return { posts: POSTS.map(summary), pinned: true };
    const post = POSTS.find((candidate) => candidate.slug === second);
    if (!post) return undefined;
    if (parts.length === 2) return post;
    if (third === 'author' && parts.length === 3) return AUTHORS[/** @type {keyof typeof AUTHORS} */ (post.author)];
    if (third === 'author' && fourth === 'stats' && parts.length === 4) {
      return STATS[/** @type {keyof typeof STATS} */ (post.author)];
    }
    return undefined;
  }
  if (first === 'tags') {
    if (parts.length === 1) return tagCounts();
    const tagged = postsTagged(second);
    if (tagged.length === 0) return undefined;
    if (third === 'posts' && parts.length === 3) return tagged;
    if (third === 'related' && parts.length === 3) {
      const related = new Set(POSTS.filter((post) => post.tags.includes(second)).flatMap((post) => post.tags));
      related.delete(second);
      return [...related].sort();
    }
  }
  return undefined;
}

/**
 * @typedef {object} BlogApi
 * @property {string} url base URL without a trailing slash (the site's BLOG_API)
 * @property {number} delayMs
 * @property {{ path: string, at: number }[]} calls every call since the last reset: pathname and
 *   arrival time (performance.now() of this process)
 * @property {() => void} reset
 * @property {() => Promise<void>} stop
 */

/**
 * Starts the API on 127.0.0.1 (port 0: the OS picks a free one unless `port` is given).
 * @param {{ delayMs?: number, port?: number }} [options]
 * @returns {Promise<BlogApi>}
 */
export function startBlogApi({ delayMs = 50, port = 0 } = {}) {
  /** @type {{ path: string, at: number }[]} */
  const calls = [];
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    calls.push({ path: pathname, at: performance.now() });
    const body = answer(pathname);
    const timer = setTimeout(() => {
      const status = body === undefined ? 404 : 200;
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify(body ?? { error: `no such resource: ${pathname}` }));
    }, delayMs);
    // A loader whose signal aborted gave up on this answer.
    res.on('close', () => clearTimeout(timer));
  });
  // Loaders' fetches keep sockets alive; do not let idle ones hold stop() up for long.
  server.keepAliveTimeout = 1_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      resolve({
        url: `http://127.0.0.1:${bound}`,
        delayMs,
        calls,
        reset: () => {
          calls.length = 0;
        },
        stop: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // Standalone: the port src/lib/api.ts falls back to when BLOG_API is not set.
  const api = await startBlogApi({ delayMs: Number(process.env.BLOG_API_DELAY_MS ?? 50), port: 4322 });
  console.log(`BLOG_API=${api.url}`);
}
