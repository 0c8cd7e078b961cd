import { proveConsistency, type Clock, type Logger, type StoredCheckpoint, type TransparencyTree } from '../../core/index.js';

export interface Witness {
  name: string;
  /** The witness's submission prefix: the checkpoint is POSTed to `<url>/add-checkpoint`. */
  url: string;
}

/**
 * Pushes a checkpoint to each witness with C2SP tlog-witness `add-checkpoint`: the size the
 * witness last cosigned, a consistency proof from it, then the signed note. A 409 tells the size
 * the witness actually holds (it restarted, or another node pushed meanwhile): one retry from
 * there. Each answer (cosignature or error) is recorded per checkpoint for the admin console.
 */
export async function pushToWitnesses(
  tree: TransparencyTree,
  cp: StoredCheckpoint,
  witnesses: Witness[],
  clock: Clock,
  logger: Logger,
): Promise<void> {
  await Promise.all(
    witnesses.map(async (w) => {
      let detail = '';
      let ok = false;
      try {
        let old = await lastCosigned(tree, w.name);
        for (let attempt = 0; attempt < 2; attempt++) {
          const proof = old > 0 && old < cp.size ? await proveConsistency(tree, old, cp.size) : [];
          const body = `old ${old}\n${proof.map((h) => `${h.toString('base64')}\n`).join('')}\n${cp.note}`;
          const res = await fetch(`${w.url.replace(/\/$/, '')}/add-checkpoint`, {
            method: 'POST',
            body,
            signal: AbortSignal.timeout(10_000),
          });
          const text = (await res.text()).slice(0, 2000);
          if (res.status === 409 && attempt === 0 && /^\d+\n?$/.test(text) && Number(text) <= cp.size) {
            old = Number(text);
            continue;
          }
          ok =
            res.status === 200 &&
            text
              .split('\n')
              .filter(Boolean)
              .every((l) => l.startsWith('\u2014 '));
          detail = ok ? text.trim() : `HTTP ${res.status}: ${text.trim().slice(0, 300)}`;
          break;
        }
      } catch (err) {
        detail = `${(err as Error).name}: ${(err as Error).message}`;
      }
      if (!ok) logger.warn({ witness: w.name, size: cp.size, detail }, 'witness did not cosign the checkpoint');
      await tree.recordWitnessAck({ size: cp.size, witness: w.name, ok, detail, at: clock.now().toISOString() });
    }),
  );
}

/** The largest size this witness cosigned, per the acks recorded (0: never). */
async function lastCosigned(tree: TransparencyTree, witness: string): Promise<number> {
  for (const cp of await tree.checkpoints(50)) {
    const acks = await tree.witnessAcks(cp.size);
    if (acks.some((a) => a.witness === witness && a.ok)) return cp.size;
  }
  return 0;
}
