// Micro-measure: cost of one live event through the projection engine (one transaction per event).
import { MemoryEventStore } from '../adapters/event-stores/memory.js';
import { openSqliteReadDatabase } from '../adapters/read-models/sqlite-read-database.js';
import { AuditView, BansView, IdentitiesView, ProjectionEngine, SessionsView, SitesView, UsersView } from '../core/index.js';
import fs from 'node:fs';
const dir = fs.mkdtempSync('/tmp/mb/x');
const store = new MemoryEventStore();
const engine = new ProjectionEngine(openSqliteReadDatabase({ path: `${dir}/r.db` }));
for (const p of [new UsersView(), new IdentitiesView(), new BansView(), new AuditView(), new SessionsView(), new SitesView()])
  engine.add(p);
await engine.prepare(store);
const n = 5000;
const events = [];
for (let i = 0; i < n; i++) {
  const r = await store.append(`session-${i}`, [
    { type: 'SessionRefreshed', data: { sessionId: `s${i}`, userId: `u${i % 100}` }, metadata: { actor: 't' } },
  ]);
  events.push(...r.events);
}
const t0 = performance.now();
for (const e of events) engine.apply(e);
const t1 = performance.now();
console.log(`per event (own transaction): ${(((t1 - t0) * 1000) / n).toFixed(1)} µs`);
