// Where the blog's data lives: a JSON API (examples/site/blog-api.mjs in this example). Loaders
// import API from here; the server reads BLOG_API from its environment at startup.
export const API = process.env.BLOG_API ?? 'http://127.0.0.1:4322';

export interface PostSummary {
  slug: string;
  title: string;
  date: string;
  tags: string[];
}

export interface Post extends PostSummary {
  author: string;
  body: string[];
}

export interface Author {
  id: string;
  name: string;
  bio: string;
}

export interface AuthorStats {
  posts: number;
  followers: number;
  since: number;
}

export interface Site {
  name: string;
  nav: { href: string; label: string }[];
}
