/**
 * Server-rendered HTML with escaping by default: every interpolated value is escaped unless it is
 * already `SafeHtml` (the output of `html` itself or `raw` for trusted constant markup).
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"'`]/g, (c) => ESC[c]);

function render(v: unknown): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/** Trusted markup only (constants written in this repo), never user input. */
export const raw = (s: string): SafeHtml => new SafeHtml(s);

const STYLE = `body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.5rem}form.stack label{display:block;margin:.6rem 0 .2rem}input[type=text],input[type=password],input[type=email],input:not([type]),select{width:100%;padding:.45rem;box-sizing:border-box}
button,.button{padding:.45rem 1rem;margin-top:.8rem;cursor:pointer}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;font-size:.9rem}
.error{background:#fde8e8;border:1px solid #f5a3a3;padding:.7rem;border-radius:4px}.ok{background:#e6f6ea;border:1px solid #9bd3a9;padding:.7rem;border-radius:4px}.muted{color:#667}code{word-break:break-all}`;

/** The page layout. The CSP (set by the server) allows this inline style by hash-free 'self' rules only: no inline script. */
export function layout(title: string, body: SafeHtml, opts: { nav?: SafeHtml } = {}): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/assets/broker.css"></head>
<body>${opts.nav ?? ''}<main>${body}</main></body></html>`.value;
}

export const STYLESHEET = STYLE;
