import path from 'node:path';
import type { EventStore } from '../../../core/index.js';
import { BrokenLog, CopyMismatch, TargetDiffers, copyEvents } from '../../event-stores/copy.js';
import { openEventStore } from '../../event-stores/open.js';
import { StoreUrlError, parseStoreUrl, redactStoreUrl } from '../../event-stores/store-url.js';
import { flag, parseArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { CommandFailed, UsageError, out, type CliIo } from '../io.js';
import { ProgressBar } from '../progress.js';

async function openUrl(url: string, io: CliIo): Promise<EventStore> {
  let cfg;
  try {
    cfg = parseStoreUrl(url);
  } catch (e) {
    if (e instanceof StoreUrlError) throw new UsageError(e.message);
    throw e;
  }
  if (cfg.kind === 'sqlite' && cfg.path) cfg.path = path.resolve(io.cwd, cfg.path);
  return openEventStore(cfg, io.cwd);
}

/** Copies every data key and tombstone; null when either store keeps none. */
async function copyDataKeys(from: EventStore, to: EventStore): Promise<number | null> {
  if (!from.dataKeys || !to.dataKeys) return null;
  let n = 0;
  for (let after = ''; ;) {
    const page = await from.dataKeys.entries(after, 1000);
    for (const k of page) await to.dataKeys.copyIn(k.id, k.wrapped);
    n += page.length;
    if (page.length < 1000) break;
    after = page[page.length - 1].id;
  }
  return n;
}

export const eventsCopyCommand: CliCommand = {
  name: 'events copy',
  summary: 'copy the whole log into another store, empty or holding an interrupted copy (hash chains verified)',
  usage: 'broker events copy --from <store url> --to <store url>   (sqlite:<file>, postgres://…?schema=s, esdb://…, esdb+discover://…)',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ['from', 'to'] });
    if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
    const fromUrl = flag(args, 'from');
    const toUrl = flag(args, 'to');
    if (!fromUrl || !toUrl) throw new UsageError('--from and --to are both required');
    if (fromUrl === toUrl) throw new UsageError('--from and --to name the same store');
    const from = await openUrl(fromUrl, io);
    let to: EventStore | null = null;
    try {
      to = await openUrl(toUrl, io);
      let bar: ProgressBar | null = null;
      const res = await copyEvents(from, to, {
        onProgress: (p) => {
          if (p.phase === 'copy' && p.total !== null) {
            bar ??= new ProgressBar(io.stderr, p.total, 'copy');
            bar.update(p.done);
          }
        },
      });
      (bar as ProgressBar | null)?.finish(res.resumedAfter + res.copied);
      // The data keys go along (wrapped, as stored): without them the copy's personal fields would read [erased].
      const keys = await copyDataKeys(from, to);
      if (from.dataKeys && !to.dataKeys)
        out(io, 'warning: the target keeps no data keys (EventStoreDB): personal fields sealed in the source cannot be opened there');
      const rate = Math.round(res.copied / Math.max(res.ms / 1000, 0.001));
      const resumed = res.resumedAfter ? ` after the ${res.resumedAfter} an earlier copy left there` : '';
      out(
        io,
        `copied ${res.copied} events${resumed} in ${res.streams} streams${keys ? ` and ${keys} data key(s)` : ''} from ${redactStoreUrl(fromUrl)} to ${redactStoreUrl(toUrl)} in ${(res.ms / 1000).toFixed(1)} s (${rate} events/s); every hash chain verified`,
      );
      return 0;
    } catch (e) {
      if (e instanceof BrokenLog || e instanceof TargetDiffers || e instanceof CopyMismatch) {
        throw new CommandFailed(e.message);
      }
      throw e;
    } finally {
      await from.close();
      await to?.close();
    }
  },
};
