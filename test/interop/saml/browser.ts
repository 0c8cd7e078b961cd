import { request } from 'undici';

/**
 * A small browser for tests: a cookie jar per origin, manual redirects, and HTML form
 * extraction (the SAML POST binding's auto-submitting form). Enough to drive federation flows.
 */
export interface Page {
  status: number;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
export interface Form {
  action: string;
  fields: Record<string, string>;
}

const unescape = (s: string): string =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#96;/g, '`')
    .replace(/&amp;/g, '&');

export class Browser {
  private readonly jars = new Map<string, Map<string, string>>();

  cookies(url: string): Map<string, string> {
    const origin = new URL(url).host;
    let jar = this.jars.get(origin);
    if (!jar) this.jars.set(origin, (jar = new Map()));
    return jar;
  }

  async fetch(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Page> {
    const jar = this.cookies(url);
    const headers: Record<string, string> = { accept: 'text/html', ...init.headers };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await request(url, { method: (init.method ?? (init.form ? 'POST' : 'GET')) as 'GET', headers, body });
    const set = res.headers['set-cookie'];
    for (const c of (Array.isArray(set) ? set : set ? [set] : []) as string[]) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(c) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return { status: res.statusCode, url, headers: res.headers as Page['headers'], body: await res.body.text() };
  }

  /** Follows redirects (any origin) until a non-redirect answer, with a bound. */
  async follow(url: string, init: { method?: string; form?: Record<string, string> } = {}, max = 15, stopAt?: string): Promise<Page> {
    let page = await this.fetch(url, init);
    for (let i = 0; i < max && page.status >= 300 && page.status < 400; i++) {
      const loc = new URL(String(page.headers.location), page.url).toString();
      if (stopAt && loc.startsWith(stopAt)) return page;
      page = await this.fetch(loc);
    }
    return page;
  }

  static form(page: Page): Form | null {
    const m = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(page.body);
    if (!m) return null;
    const fields: Record<string, string> = {};
    for (const inp of m[2].matchAll(/<input[^>]*name="([^"]*)"[^>]*value="([^"]*)"/gi)) fields[unescape(inp[1])] = unescape(inp[2]);
    return { action: new URL(unescape(m[1]), page.url).toString(), fields };
  }

  /** Submits a form (the auto-post a browser would run) and follows redirects. */
  async submit(form: Form): Promise<Page> {
    return this.follow(form.action, { form: form.fields });
  }
}
