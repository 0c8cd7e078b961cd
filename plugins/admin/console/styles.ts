/**
 * The console's stylesheet, served by the broker at /admin/assets/console.css (the page CSP allows
 * styles from 'self' only: no inline style, no CDN). Colours meet WCAG AA contrast on their
 * backgrounds (text #1d2330 on #fff is 15:1; muted #4a5468 is 7.6:1; links #1a4fb4 are 7:1), and
 * every interactive element has a visible focus ring.
 */
export const CONSOLE_CSS = `:root{--fg:#1d2330;--muted:#4a5468;--line:#d5d9e0;--bg:#f5f6f8;--card:#fff;--link:#1a4fb4;--accent:#1a4fb4;--danger:#a4161a;--ok:#176b32;--warn:#7a4a00}
*{box-sizing:border-box}html{font-size:15px}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);line-height:1.45}
a{color:var(--link)}a:hover{text-decoration-thickness:2px}
:focus-visible{outline:3px solid #f2b400;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem 1rem;z-index:10}.skip:focus{left:.5rem}
header.top{display:flex;flex-wrap:wrap;align-items:center;gap:1rem;background:#1d2330;color:#fff;padding:.6rem 1.2rem}
header.top a{color:#fff}header.top .brand{font-weight:700;text-decoration:none;display:flex;align-items:center;gap:.5rem}
header.top nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.2rem;margin:0;padding:0}
header.top nav a{display:block;padding:.35rem .7rem;border-radius:4px;text-decoration:none}
header.top nav a:hover{background:#343c4f}header.top nav a[aria-current=page]{background:#fff;color:#1d2330}
header.top .who{margin-left:auto;font-size:.9rem;color:#dfe3ea}
main{max-width:78rem;margin:0 auto;padding:1.2rem}
h1{font-size:1.55rem;margin:.2rem 0 1rem}h2{font-size:1.15rem;margin:1.6rem 0 .6rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:1rem 1.1rem;margin-bottom:1rem}.card>h2:first-child,.card>h1:first-child{margin-top:0}
a.card{display:block;text-decoration:none;color:var(--fg)}a.card:hover{border-color:var(--accent)}a.card .stat{color:var(--link)}
main:focus{outline:none}td time{white-space:nowrap}
.charts{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(30rem,1fr))}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr))}
.table-wrap{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}th,td{padding:.45rem .6rem;text-align:left;vertical-align:top;border-bottom:1px solid var(--line);font-size:.92rem}
thead th{background:#eef0f4;font-weight:600;white-space:nowrap}tbody tr:last-child td{border-bottom:0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0}dl.facts dt{color:var(--muted);font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem;overflow-wrap:anywhere}
.muted{color:var(--muted)}.small{font-size:.85rem}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.8rem;font-weight:600;border:1px solid;white-space:nowrap}
.badge.active,.badge.ok,.badge.delivered,.badge.verified,.badge.yes{color:var(--ok);border-color:var(--ok);background:#e9f6ee}
.badge.banned,.badge.danger,.badge.abandoned,.badge.broken,.badge.revoked{color:var(--danger);border-color:var(--danger);background:#fdecec}
.badge.disabled,.badge.retrying,.badge.pending,.badge.warn,.badge.expired{color:var(--warn);border-color:var(--warn);background:#fff4e0}
.badge.admin,.badge.info,.badge.none{color:#243b73;border-color:#243b73;background:#eaf0fb}
.flash{border-radius:6px;padding:.7rem 1rem;margin-bottom:1rem;border:1px solid}.flash.ok{background:#e9f6ee;border-color:#8fcca3}.flash.error{background:#fdecec;border-color:#e59a9c}
form.filters{display:flex;flex-wrap:wrap;gap:.8rem;align-items:flex-end;margin-bottom:1rem}
form.filters .field{display:flex;flex-direction:column;gap:.2rem}
label{font-weight:600;font-size:.9rem}
input,select,textarea{font:inherit;padding:.4rem .5rem;border:1px solid #7a8397;border-radius:4px;background:#fff;color:var(--fg);min-width:10rem}
textarea{width:100%;min-height:4rem}
button,.button{font:inherit;display:inline-block;padding:.4rem .9rem;border-radius:4px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;text-decoration:none;line-height:1.3}
button.secondary,.button.secondary{background:#fff;color:var(--accent)}
button.danger,.button.danger{background:var(--danger);border-color:var(--danger);color:#fff}
form.inline{display:inline}.actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.pager{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;margin:.8rem 0}.pager a[aria-current]{font-weight:700;color:var(--fg);text-decoration:none}
.confirm{max-width:40rem}.confirm ul{padding-left:1.2rem}
.chart{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.8rem;margin:0}
.chart svg{width:100%;height:auto;display:block}.chart figcaption{font-weight:600;margin-bottom:.4rem}
.chart .bar-login{fill:#1a4fb4}.chart .bar-failure{fill:#b25e00}.chart .bar-ban{fill:#a4161a}
.chart .axis{stroke:#7a8397;stroke-width:1}.chart text{fill:#4a5468;font-size:12px;font-family:system-ui,sans-serif}
.stat{font-size:1.8rem;font-weight:700}
details summary{cursor:pointer}
@media (max-width:40rem){dl.facts{grid-template-columns:1fr}header.top .who{margin-left:0}}`;
