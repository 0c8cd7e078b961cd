import { ChainVerifier, type ChainBreak, type EventStore, type NewEvent, type RecordedEvent } from '../../core/index.js';

/** The source log has a broken hash chain: nothing is copied from a log that was edited. */
export class BrokenLog extends Error {
  override readonly name = 'BrokenLog';
  constructor(readonly breaks: ChainBreak[]) {
    const b = breaks[0];
    super(`the source log's hash chain is broken (${breaks.length} break(s); first: stream ${b.streamId} revision ${b.revision} at position ${b.position}: ${b.problem})`);
  }
}

export class TargetNotEmpty extends Error {
  override readonly name = 'TargetNotEmpty';
  constructor(head: number) {
    super(`the target store is not empty (head position ${head}); copy into an empty store`);
  }
}

/** The target stored an event whose hash differs from the source's (or whose chain breaks there). */
export class CopyMismatch extends Error {
  override readonly name = 'CopyMismatch';
  constructor(readonly source: RecordedEvent, readonly problem: string) {
    super(`event ${source.id} (stream ${source.streamId} revision ${source.revision}) arrived changed: ${problem}`);
  }
}

export interface CopyProgress {
  phase: 'verify' | 'copy';
  /** Events verified (phase verify) or copied (phase copy) so far. */
  done: number;
  /** Total to copy, known after the verify phase. */
  total: number | null;
}

export interface CopyOptions {
  onProgress?: (p: CopyProgress) => void;
  pageSize?: number;
  /** Largest append (events of one stream in a row go in one append). */
  maxBatch?: number;
}

async function* pages(store: EventStore, pageSize: number): AsyncGenerator<RecordedEvent[]> {
  let after = 0;
  for (;;) {
    const page = await store.readAll({ after, limit: pageSize });
    if (page.length) yield page;
    if (page.length < pageSize) return;
    after = page[page.length - 1].position;
  }
}

/**
 * Copies the whole log from one store to an empty one, in global order, keeping ids, types,
 * versions, data and metadata, so every event keeps its hash (positions are renumbered; the hash
 * does not cover them). First a read-only pass verifies every chain and refuses a broken log
 * before anything is written; then each event is verified again as read (the source may have
 * grown) and on arrival: the target's hash must equal the source's and the target's chains must
 * verify too. Each append carries the exact expected revision, so a target that changes under
 * the copy fails loudly instead of interleaving.
 */
export async function copyEvents(
  from: EventStore,
  to: EventStore,
  options: CopyOptions = {},
): Promise<{ copied: number; streams: number; ms: number }> {
  const started = performance.now();
  const pageSize = options.pageSize ?? 5000;
  const maxBatch = options.maxBatch ?? 500;
  const head = await to.headPosition();
  if (head !== 0) throw new TargetNotEmpty(head);

  const precheck = new ChainVerifier();
  for await (const page of pages(from, pageSize)) {
    for (const e of page) precheck.check(e);
    options.onProgress?.({ phase: 'verify', done: precheck.checked, total: null });
  }
  if (precheck.breaks.length) throw new BrokenLog(precheck.breaks);
  const total = precheck.checked;

  const source = new ChainVerifier();
  const arrival = new ChainVerifier();
  const streams = new Set<string>();
  let copied = 0;
  const flush = async (run: RecordedEvent[]): Promise<void> => {
    const first = run[0];
    const res = await to.append(
      first.streamId,
      run.map((e): NewEvent => ({ id: e.id, type: e.type as NewEvent['type'], version: e.version, data: e.data as NewEvent['data'], metadata: e.metadata })),
      { expectedRevision: first.revision === 0 ? 'no_stream' : first.revision - 1 },
    );
    res.events.forEach((got, i) => {
      const src = run[i];
      if (got.id !== src.id || got.revision !== src.revision) throw new CopyMismatch(src, `stored as ${got.id} revision ${got.revision}`);
      if (got.hash !== src.hash) throw new CopyMismatch(src, `hash ${got.hash} instead of ${src.hash}`);
      const b = arrival.check(got);
      if (b) throw new CopyMismatch(src, `chain broken in the target (${b.problem})`);
    });
    streams.add(first.streamId);
    copied += run.length;
  };
  for await (const page of pages(from, pageSize)) {
    let run: RecordedEvent[] = [];
    for (const e of page) {
      const b = source.check(e);
      if (b) throw new BrokenLog([b]);
      if (run.length && (run[0].streamId !== e.streamId || run.length >= maxBatch)) {
        await flush(run);
        run = [];
      }
      run.push(e);
    }
    if (run.length) await flush(run);
    options.onProgress?.({ phase: 'copy', done: copied, total: Math.max(total, copied) });
  }
  return { copied, streams: streams.size, ms: performance.now() - started };
}
