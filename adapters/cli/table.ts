/** A plain-text table with a header rule; cells are single-line (newlines shown as ⏎). */
export function renderTable(headers: string[], rows: string[][]): string {
  const clean = (s: string) => s.replace(/[\r\n]+/g, '⏎');
  const all = [headers, ...rows.map((r) => r.map(clean))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}
