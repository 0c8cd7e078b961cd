import { html, type SafeHtml } from '../../../plugin/index.js';

/**
 * A bar chart drawn on the server as SVG (no script, no CDN: the page CSP allows neither). Named
 * for assistive technology by `<title>`/`<desc>` (role="img"), with the numbers in a table under
 * a disclosure for whoever cannot read the bars. Colours come from the stylesheet by class.
 */
export function barChart(o: {
  id: string;
  title: string;
  labels: string[];
  values: number[];
  cls: string;
  tick: (i: number) => boolean;
}): SafeHtml {
  const W = 640;
  const H = 180;
  const left = 36;
  const bottom = 22;
  const top = 8;
  const n = Math.max(1, o.values.length);
  const max = Math.max(1, ...o.values);
  // A round top of the scale (1, 2, 5 × 10^k) so the gridline labels read naturally.
  const pow = 10 ** Math.floor(Math.log10(max));
  const scale = [1, 2, 5, 10].map((m) => m * pow).find((v) => v >= max) ?? max;
  const plotH = H - bottom - top;
  const step = (W - left) / n;
  const bw = Math.max(1, step * 0.72);
  const y = (v: number) => top + plotH - (v / scale) * plotH;
  const total = o.values.reduce((a, b) => a + b, 0);
  const peak = o.values.indexOf(Math.max(...o.values));
  const desc = `${total} in total over ${n} periods from ${o.labels[0]} to ${o.labels[n - 1]}${total ? `; the most, ${o.values[peak]}, in ${o.labels[peak]}` : ''}.`;
  return html`<figure class="chart" id="${o.id}"><figcaption id="${o.id}-t">${o.title}</figcaption>
<svg viewBox="0 0 ${String(W)} ${String(H)}" role="img" aria-labelledby="${o.id}-st ${o.id}-d" xmlns="http://www.w3.org/2000/svg"><title id="${o.id}-st">${o.title}</title><desc id="${o.id}-d">${desc}</desc>
<line class="axis" x1="${String(left)}" y1="${String(top + plotH)}" x2="${String(W)}" y2="${String(top + plotH)}"/>
${(scale % 2 === 0 ? [0, 0.5, 1] : [0, 1]).map((f) => html`<text x="${String(left - 4)}" y="${String(y(scale * f) + 4)}" text-anchor="end">${String(Math.round(scale * f))}</text><line class="axis" x1="${String(left - 2)}" y1="${String(y(scale * f))}" x2="${String(left)}" y2="${String(y(scale * f))}"/>`)}
${o.values.map((v, i) => {
  const x = left + i * step + (step - bw) / 2;
  return html`<rect class="${o.cls}" x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}"><title>${o.labels[i]}: ${String(v)}</title></rect>${
    o.tick(i) ? html`<text x="${(x + bw / 2).toFixed(1)}" y="${String(H - 6)}" text-anchor="middle">${o.labels[i]}</text>` : ''
  }`;
})}</svg>
<p class="small muted">${desc}</p>
<details><summary>Numbers</summary><table><thead><tr><th scope="col">Period</th><th scope="col">Count</th></tr></thead><tbody>${o.values.map((v, i) => html`<tr><td>${o.labels[i]}</td><td>${String(v)}</td></tr>`)}</tbody></table></details></figure>`;
}
