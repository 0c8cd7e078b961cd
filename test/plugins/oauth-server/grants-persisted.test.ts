import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { logCollector } from '../../helpers/broker.js';
import { Agent } from 'undici';
import { basic, codeFlow, SECRET, startOAuth, type Harness } from './harness.js';

/**
 * Issue 15 with the OAuth server configured: its grants view is persisted like the core views, so a
 * restart resumes from the checkpoint (no replay from position 0) and a revocation recorded before
 * the restart is refused on the very first request after it.
 */
describe('oauth-server grants view persisted', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'grants-persist-'));
  const logFile = path.join(dir, 'broker.db');
  const readFile = path.join(dir, 'read.db');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let port: number | undefined;
  async function start(): Promise<{ h: Harness; logs: Record<string, unknown>[] }> {
    const store = await SqliteEventStore.open({ path: logFile, synchronous: 'NORMAL' });
    const { logs, sink } = logCollector();
    const h = await startOAuth(undefined, {}, [], { readModels: { path: readFile } } as never, { store, sink, port });
    // The issuer is the URL: a restart keeps it, or every token would fail its `iss` check.
    port = Number(new URL(h.url).port);
    const stop = h.stop;
    h.stop = async () => {
      await stop();
      await store.close();
    };
    return { h, logs };
  }
  /** A POST on a connection of its own (a pooled one may still point at the stopped broker). */
  async function postForm(url: string, route: string, form: Record<string, string>, auth: string) {
    const dispatcher = new Agent({ pipelining: 0 });
    try {
      const res = await fetch(`${url}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
        body: new URLSearchParams(form).toString(),
        dispatcher,
      } as RequestInit);
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
    } finally {
      await dispatcher.close();
    }
  }
  const introspect = async (h: Harness, token: string) =>
    (await postForm(h.url, '/oauth/introspect', { token }, basic('web', SECRET))).body.active;
  const checkpointOf = (name: string) => {
    const db = new Database(readFile, { readonly: true });
    try {
      return (
        (db.prepare('SELECT position FROM projection_checkpoints WHERE name = ?').get(name) as { position: number } | undefined)
          ?.position ?? 0
      );
    } finally {
      db.close();
    }
  };

  it('resumes from its checkpoint after a restart, and a token revoked before it stays refused', { timeout: 60_000 }, async () => {
    const first = await start();
    await first.h.user('ann@example.com');
    const revoked = await codeFlow(first.h, first.h.browser(), { scope: 'openid api offline_access' });
    const kept = await codeFlow(first.h, first.h.browser(), { scope: 'openid api offline_access' });
    // RFC 7009: the access token alone, then the other grant's refresh token (the whole grant).
    expect((await postForm(first.h.url, '/oauth/revoke', { token: revoked.access_token as string }, basic('web', SECRET))).status).toBe(
      200,
    );
    expect(await introspect(first.h, revoked.access_token as string)).toBe(false);
    expect(await introspect(first.h, kept.access_token as string)).toBe(true);
    await first.h.stop();

    const stoppedAt = checkpointOf('oauth-server.grants');
    expect(stoppedAt).toBeGreaterThan(0);
    const second = await start();
    try {
      // The very first request after the restart already refuses the revoked token.
      expect(await introspect(second.h, revoked.access_token as string)).toBe(false);
      expect(await introspect(second.h, kept.access_token as string)).toBe(true);
      expect(await introspect(second.h, kept.refresh_token as string)).toBe(true);
      // Nothing was rebuilt: no projection started over from the log.
      expect(second.logs.filter((l) => l.msg === 'projection rebuilds from the log')).toEqual([]);
      const status = second.h.broker.projections.status().find((p) => p.name === 'oauth-server.grants')!;
      expect(status).toMatchObject({ kind: 'persisted', rebuild: null, failures: 0 });

      // A revocation after the restart lands in the same rows and survives the next one too.
      expect((await postForm(second.h.url, '/oauth/revoke', { token: kept.refresh_token as string }, basic('web', SECRET))).status).toBe(
        200,
      );
      expect(await introspect(second.h, kept.access_token as string)).toBe(false);
    } finally {
      await second.h.stop();
    }
    expect(checkpointOf('oauth-server.grants')).toBeGreaterThan(stoppedAt);
    const third = await start();
    try {
      expect(await introspect(third.h, kept.access_token as string)).toBe(false);
      expect(await introspect(third.h, kept.refresh_token as string)).toBe(false);
    } finally {
      await third.h.stop();
    }
  });
});
