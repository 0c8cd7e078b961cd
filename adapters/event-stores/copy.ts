import {
  ChainVerifier,
  ImportBreaksChain,
  eventHash,
  type ChainBreak,
  type EventStore,
  type NewEvent,
  type RecordedEvent,
} from '../../core/index.js';

/** The source log has a broken hash chain: nothing is copied from a log that was edited. */
export class BrokenLog extends Error {
  override readonly name = 'BrokenLog';
  constructor(readonly breaks: ChainBreak[]) {
    const b = breaks[0];
    super(
      `the source log's hash chain is broken (${breaks.length} break(s); first: stream ${b.streamId} revision ${b.revision} at position ${b.position}: ${b.problem})`,
    );
  }
}

/** The target holds events that are not a copy of the source's first events: nothing is written. */
export class TargetDiffers extends Error {
  override readonly name = 'TargetDiffers';
  constructor(readonly detail: string) {
    super(`the target store is not empty and is not an earlier copy of this log (${detail}); copy into an empty store`);
  }
}

/** The target stored an event whose hash differs from the source's (or whose chain breaks there). */
export class CopyMismatch extends Error {
  override readonly name = 'CopyMismatch';
  constructor(
    readonly source: RecordedEvent,
    readonly problem: string,
  ) {
    super(`event ${source.id} (stream ${source.streamId} revision ${source.revision}) arrived changed: ${problem}`);
  }
}

export interface CopyProgress {
  phase: 'verify' | 'copy';
  /** Events read and verified (phase verify) or in the target (phase copy) so far. */
  done: number;
  /** Events in the source, estimated from its head position (exact for a dense log). */
  total: number | null;
}

export interface CopyOptions {
  onProgress?: (p: CopyProgress) => void;
  pageSize?: number;
  /** Events per import transaction (default 5,000; appends of at most 500 for a target without importEvents). */
  maxBatch?: number;
  /** How many of the target's last events must match the source to resume (default 64). */
  resumeCheck?: number;
}

export interface CopyResult {
  copied: number;
  /** Events the target already held from an earlier, interrupted copy. */
  resumedAfter: number;
  streams: number;
  ms: number;
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

/** The target's last `n` events (or fewer), in order. Positions need not be dense, so it pages. */
async function tailOf(store: EventStore, head: number, n: number): Promise<RecordedEvent[]> {
  for (let span = n; ; span *= 4) {
    const from = Math.max(0, head - span);
    const got: RecordedEvent[] = [];
    for (let after = from; ;) {
      const page = await store.readAll({ after, limit: 5000 });
      got.push(...page);
      if (page.length < 5000) break;
      after = page[page.length - 1].position;
    }
    if (got.length >= n || from === 0) return got.slice(-n);
  }
}

/**
 * Copies the log from one store to another in global order, keeping ids, types, versions, data
 * and metadata, so every event keeps its hash (positions are renumbered; the hash does not cover
 * them). One pass, in batches: every event is verified as read (its hash recomputed, its link to
 * the previous one in its stream checked), and a batch is written only once all of it verified,
 * in one transaction by the target's importEvents, which also refuses an event that does not
 * continue its stream's chain there. So nothing unverified is ever written: at an edited event
 * the copy stops with BrokenLog, the target holding only the verified events before its batch.
 *
 * Resumable: a target that already holds events is accepted only when its last events are the
 * source's, in the source's order (an earlier copy that was interrupted), each with its hash
 * recomputed; the copy reads (and verifies) the source up to them and goes on after them. A
 * target whose last events are anything else is refused before anything is written
 * (TargetDiffers); one edited further back is refused only when a copied event should link to
 * the edited one (importEvents' check), batches before that one written by then (`broker audit
 * verify` on the target finds such an edit whatever the copy saw).
 */
export async function copyEvents(from: EventStore, to: EventStore, options: CopyOptions = {}): Promise<CopyResult> {
  const started = performance.now();
  const pageSize = options.pageSize ?? 5000;
  const maxBatch = options.maxBatch ?? 5000;
  const head = await to.headPosition();
  const tail = head ? await tailOf(to, head, options.resumeCheck ?? 64) : [];
  for (const t of tail) if (eventHash(t) !== t.hash) throw new TargetDiffers(`its event ${t.id} at position ${t.position} was edited`);
  // An estimate for progress (positions may have gaps): the source's head.
  const total = await from.headPosition();

  const verifier = new ChainVerifier();
  const streams = new Set<string>();
  let matched = 0; // how many of the target's last events the source has shown, in order
  let resumedAfter = 0;
  let copied = 0;
  const write = to.importEvents ? importer(to) : appender(to, Math.min(maxBatch, 500));
  // One batch in flight while the next is read and verified: the two stores work in parallel.
  // A failure is kept as a value until awaited, so it is never an unhandled rejection.
  let inflight: Promise<unknown> | null = null;
  const settle = async (): Promise<void> => {
    const failed = await inflight;
    inflight = null;
    if (failed) throw failed;
  };
  let batch: RecordedEvent[] = [];
  const send = async (): Promise<void> => {
    await settle();
    const b = batch;
    batch = [];
    inflight = write(b).then(
      () => {
        copied += b.length;
        options.onProgress?.({ phase: 'copy', done: resumedAfter + copied, total: Math.max(total, resumedAfter + copied) });
        return null;
      },
      (e: unknown) => (e instanceof ImportBreaksChain ? new TargetDiffers(e.message) : e),
    );
  };
  for await (const page of pages(from, pageSize)) {
    for (const e of page) {
      const b = verifier.check(e);
      if (b) {
        await settle();
        throw new BrokenLog([b]);
      }
      if (matched < tail.length) {
        // Still in what the target holds: the target's last events must come up here, in order.
        const t = tail[matched];
        if (e.id === t.id) {
          if (e.hash !== t.hash || e.streamId !== t.streamId || e.revision !== t.revision)
            throw new TargetDiffers(`its event ${t.id} differs from the source's`);
          matched++;
        } else if (matched > 0)
          throw new TargetDiffers(`its last events are not in the source's order (expected ${t.id} after ${tail[matched - 1].id})`);
        if (matched === tail.length) resumedAfter = verifier.checked;
        continue;
      }
      streams.add(e.streamId);
      batch.push(e);
      if (batch.length >= maxBatch) await send();
    }
    options.onProgress?.({ phase: 'verify', done: verifier.checked, total });
  }
  if (matched < tail.length)
    throw new TargetDiffers(`its event ${tail[matched].id} at position ${tail[matched].position} is not in the source`);
  if (batch.length) await send();
  await settle();
  if (copied === 0) options.onProgress?.({ phase: 'copy', done: resumedAfter, total: resumedAfter });
  return { copied, resumedAfter, streams: streams.size, ms: performance.now() - started };
}

function importer(to: EventStore): (batch: RecordedEvent[]) => Promise<void> {
  return async (batch) => {
    await to.importEvents!(batch);
  };
}

/**
 * For a target without importEvents (EventStoreDB): appends of runs of one stream, each with the
 * exact expected revision, each event checked on arrival: the target computes the hash itself, over
 * its own previous hash, so an equal hash proves the link too.
 */
function appender(to: EventStore, maxRun: number): (batch: RecordedEvent[]) => Promise<void> {
  const flush = async (run: RecordedEvent[]): Promise<void> => {
    const first = run[0];
    const res = await to.append(
      first.streamId,
      run.map((e): NewEvent => ({
        id: e.id,
        type: e.type as NewEvent['type'],
        version: e.version,
        data: e.data as NewEvent['data'],
        metadata: e.metadata,
      })),
      { expectedRevision: first.revision === 0 ? 'no_stream' : first.revision - 1 },
    );
    res.events.forEach((got, i) => {
      const src = run[i];
      if (got.id !== src.id || got.revision !== src.revision) throw new CopyMismatch(src, `stored as ${got.id} revision ${got.revision}`);
      if (got.hash !== src.hash) throw new CopyMismatch(src, `hash ${got.hash} instead of ${src.hash}`);
    });
  };
  return async (batch) => {
    let run: RecordedEvent[] = [];
    for (const e of batch) {
      if (run.length && (run[0].streamId !== e.streamId || run.length >= maxRun)) {
        await flush(run);
        run = [];
      }
      run.push(e);
    }
    if (run.length) await flush(run);
  };
}
