import { fetch, Headers, type RequestInit, type Response } from 'undici';

/**
 * A browser-ish HTTP client for tests: keeps cookies per name (no domain/path matching: one test,
 * one broker origin), follows redirects by hand so every hop's Set-Cookie is kept, and records the
 * hops so a test can assert where it was sent.
 */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some(
        (a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()),
      );
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

export interface Client {
  jar: CookieJar;
  /** One request, no redirect following. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Follows redirects (GET after 303/302/301, as browsers do) up to `max` hops; `hops` lists each URL visited. */
  follow(path: string, init?: RequestInit, max?: number): Promise<{ res: Response; body: string; url: string; hops: string[] }>;
  get(path: string): Promise<{ res: Response; body: string; url: string; hops: string[] }>;
  /** POSTs an urlencoded form and follows the redirects. */
  postForm(path: string, form: Record<string, string>): Promise<{ res: Response; body: string; url: string; hops: string[] }>;
}

export function client(baseUrl: string, jar = new CookieJar()): Client {
  const request = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(path, baseUrl);
    const headers = new Headers(init.headers as Record<string, string> | undefined);
    if (jar.cookies.size && !headers.has('cookie')) headers.set('cookie', jar.header());
    if (!headers.has('accept')) headers.set('accept', 'text/html,application/json;q=0.9');
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    jar.store(res);
    return res;
  };
  const follow = async (path: string, init: RequestInit = {}, max = 10) => {
    let url = new URL(path, baseUrl).toString();
    const hops = [url];
    let res = await request(url, init);
    for (let i = 0; i < max && res.status >= 300 && res.status < 400 && res.headers.get('location'); i++) {
      await res.body?.cancel();
      url = new URL(res.headers.get('location')!, url).toString();
      hops.push(url);
      if (new URL(url).origin !== new URL(baseUrl).origin) break; // never leave the test server
      res = await request(url, {});
    }
    if (res.status >= 300 && res.status < 400) return { res, body: '', url, hops };
    return { res, body: await res.text(), url, hops };
  };
  return {
    jar,
    request,
    follow,
    get: (path) => follow(path),
    postForm: (path, form) =>
      follow(path, {
        method: 'POST',
        body: new URLSearchParams(form).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
  };
}

/** The value of a hidden/input field by name in a page (tests only; our pages quote attributes with "). */
export function field(page: string, name: string): string {
  const m = new RegExp(`name="${name}"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="${name}"`).exec(page);
  if (!m) throw new Error(`no field ${name} in page:\n${page.slice(0, 2000)}`);
  return unescape(m[1] ?? m[2]);
}

export function unescape(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#96;/g, '`')
    .replace(/&amp;/g, '&');
}
