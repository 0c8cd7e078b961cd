import { fetch } from 'undici';

/** A small browser: one cookie jar per origin, redirects followed by hand so each hop can be inspected. */
export class Browser {
  private readonly jars = new Map<string, Map<string, string>>();
  /** Rewrites a public origin (e.g. the broker's baseUrl) to where it actually listens. */
  constructor(private readonly hosts: Record<string, string> = {}) {}

  private resolve(url: string): URL {
    const u = new URL(url);
    const mapped = this.hosts[u.origin];
    return mapped ? new URL(u.pathname + u.search, mapped) : u;
  }

  cookie(origin: string, name: string): string | undefined {
    return this.jars.get(this.resolve(origin).origin)?.get(name);
  }

  setCookie(origin: string, name: string, value: string): void {
    const o = this.resolve(origin).origin;
    if (!this.jars.has(o)) this.jars.set(o, new Map());
    this.jars.get(o)!.set(name, value);
  }

  async get(url: string, init: { accept?: string } = {}) {
    const u = this.resolve(url);
    const jar = this.jars.get(u.origin) ?? new Map<string, string>();
    this.jars.set(u.origin, jar);
    const headers: Record<string, string> = { accept: init.accept ?? 'text/html' };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(u, { redirect: 'manual', headers });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    const location = res.headers.get('location');
    return { status: res.status, location: location ? new URL(location, u).toString() : null, text: () => res.text() };
  }

  /** Follows redirects until one leaves the given origins (returned unfetched) or a page is answered. */
  async follow(url: string, stayOn: string[], maxHops = 10): Promise<{ status: number; url: string; body?: string }> {
    let current = url;
    for (let i = 0; i < maxHops; i++) {
      const u = new URL(current);
      if (!stayOn.includes(u.origin)) return { status: 0, url: current };
      const r = await this.get(current);
      if (r.status >= 300 && r.status < 400 && r.location) {
        current = r.location;
        continue;
      }
      return { status: r.status, url: current, body: await r.text() };
    }
    throw new Error(`more than ${maxHops} redirects from ${url}`);
  }
}
