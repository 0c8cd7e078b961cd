import { afterEach, describe, expect, it } from 'vitest';
import { verifyLog, type EventStore, type RecordedEvent, type RootClaim } from '../../../core/index.js';
import { pgUnavailable } from '../event-stores/pg-fixture.js';
import { keptClaim, pgBackend, rewriteStreamSql, sqliteBackend, writeLog, type TamperBackend } from './tamper-world.js';

const pgMissing = await pgUnavailable();

for (const make of [sqliteBackend, pgBackend]) {
  const name = make === sqliteBackend ? 'sqlite' : 'postgres';
  describe.skipIf(name === 'postgres' && pgMissing)(`transparency tree tamper suite (${name})`, () => {
    let b: TamperBackend;
    let store: EventStore | null = null;
    afterEach(async () => {
      await store?.close();
      store = null;
      await b.cleanup();
    });

    /** Writes the log, keeps a checkpoint, closes; returns what was written. */
    async function setup(): Promise<{ events: RecordedEvent[]; claim: RootClaim }> {
      b = make();
      const s = await b.open();
      const events = await writeLog(s);
      const claim = await keptClaim(s);
      await s.close();
      return { events, claim };
    }

    async function verify(claim: RootClaim) {
      store = await b.open();
      return verifyLog(store, [claim]);
    }

    const at = (events: RecordedEvent[], streamId: string, revision: number): number =>
      events.find((e) => e.streamId === streamId && e.revision === revision)!.position;

    it('verifies the untouched log against the tree and the kept checkpoint', async () => {
      const { claim } = await setup();
      const r = await verify(claim);
      expect(r.checked).toBe(36);
      expect(r.treeSize).toBe(36);
      expect(r.findings).toEqual([]);
      expect(r.chain.breaks).toEqual([]);
      expect(r.firstPosition).toBeNull();
    });

    it('catches a deleted event that was last in its stream (a ban), at its position', async () => {
      const { events, claim } = await setup();
      const p = at(events, 'user-u5', 2);
      await b.sql(`DELETE FROM ${b.table('events')} WHERE position = ${p}`);
      const r = await verify(claim);
      expect(r.chain.breaks).toEqual([]); // the per-stream chains alone see nothing
      expect(r.firstPosition).toBe(p);
      expect(r.findings.map((f) => f.kind)).toContain(name === 'sqlite' ? 'position_gap' : 'event_missing');
    });

    it('catches a deleted stream, at its first position', async () => {
      const { events, claim } = await setup();
      await b.sql(`DELETE FROM ${b.table('events')} WHERE stream_id = 'user-u3'`);
      const r = await verify(claim);
      expect(r.chain.breaks).toEqual([]);
      expect(r.firstPosition).toBe(at(events, 'user-u3', 0));
    });

    it('catches a truncated tail, at the first position gone', async () => {
      const { events, claim } = await setup();
      const from = events[events.length - 3].position;
      await b.sql(`DELETE FROM ${b.table('events')} WHERE position >= ${from}`);
      const r = await verify(claim);
      expect(r.chain.breaks).toEqual([]);
      expect(r.firstPosition).toBe(from);
      expect(r.findings[0].kind).toBe('truncated');
    });

    it('catches a tail truncated in the tree too, by the kept checkpoint', async () => {
      const { events, claim } = await setup();
      const from = events[events.length - 3].position;
      await b.sql(
        `DELETE FROM ${b.table('events')} WHERE position >= ${from}; DELETE FROM ${b.table('tlog_leaves')} WHERE position >= ${from}; DELETE FROM ${b.table('tlog_nodes')} WHERE level > 0 AND (idx + 1) * (1 << level) > ${events.length - 3};`,
      );
      const r = await verify(claim);
      expect(r.firstPosition).toBe(from);
      expect(r.findings.map((f) => f.kind)).toContain('truncated');
    });

    it('catches two events swapped, at the first of them', async () => {
      const { events, claim } = await setup();
      const [a, c] = [events[4].position, events[20].position];
      const t = b.table('events');
      await b.sql(
        `UPDATE ${t} SET position = -1 WHERE position = ${a}; UPDATE ${t} SET position = ${a} WHERE position = ${c}; UPDATE ${t} SET position = ${c} WHERE position = -1;`,
      );
      const r = await verify(claim);
      expect(r.firstPosition).toBe(a);
      expect(r.findings[0]).toMatchObject({ kind: 'leaf_mismatch', position: a });
    });

    it('catches an edited row, at its position', async () => {
      const { events, claim } = await setup();
      const p = at(events, 'user-u7', 2);
      await b.sql(`UPDATE ${b.table('events')} SET data = '{"userId":"u7","reason":"none","actor":"admin"}' WHERE position = ${p}`);
      const r = await verify(claim);
      expect(r.firstPosition).toBe(p);
      expect(r.chain.breaks[0]).toMatchObject({ position: p, problem: 'hash_mismatch' });
    });

    it('catches a stream rewritten with recomputed hashes, at the first rewritten position', async () => {
      const { events, claim } = await setup();
      await b.sql(rewriteStreamSql(b, events, 'user-u9', 1));
      const r = await verify(claim);
      expect(r.chain.breaks).toEqual([]); // the chain was recomputed: it verifies
      expect(r.firstPosition).toBe(at(events, 'user-u9', 1));
      expect(r.findings[0]).toMatchObject({ kind: 'leaf_mismatch' });
    });

    it('catches a rewrite whose tree was rebuilt too, by the kept checkpoint', async () => {
      const { events, claim } = await setup();
      await b.sql(rewriteStreamSql(b, events, 'user-u9', 1));
      await b.sql(`DELETE FROM ${b.table('tlog_leaves')}; DELETE FROM ${b.table('tlog_nodes')};`);
      const r = await verify(claim); // opening rebuilds the tree from the rewritten log
      expect(r.chain.breaks).toEqual([]);
      expect(r.findings.map((f) => f.kind)).toContain('checkpoint_mismatch');
      expect(r.firstPosition).not.toBeNull();
    });
  });
}
