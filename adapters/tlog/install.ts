import type { FastifyInstance } from 'fastify';
import type { Clock, EventStore, Logger } from '../../core/index.js';
import type { BrokerConfig } from '../../config/types.js';
import type { Keys } from '../kernel/master-key.js';
import { checkpointSigner } from './checkpoint-key.js';
import { CheckpointIssuer } from './checkpoint-issuer.js';
import { LogContradictsCheckpoint, checkLogAgainstCheckpoint } from './start-check.js';

export interface TransparencyDeps {
  app: FastifyInstance;
  store: EventStore;
  config: BrokerConfig;
  keys: Keys;
  clock: Clock;
  logger: Logger;
  /** `broker start --accept-log-contradiction`: start on a contradicting log, recording that. */
  acceptContradiction?: boolean;
}

/** Published checkpoint routes (documented in adapters/tlog/README.md and docs/downstream-sites.md). */
export const CHECKPOINT_PATH = '/.well-known/broker-log/checkpoint';
export const KEY_PATH = '/.well-known/broker-log/key';

/**
 * The transparency log's kernel side: the start check against the latest checkpoint, the issuer
 * (started with the broker), and the published checkpoint and verifier key. A store without a
 * tree (memory, EventStoreDB) has none of it.
 */
export interface Transparency {
  issuer: CheckpointIssuer;
  /** The start check (and the recorded override); throws LogContradictsCheckpoint. */
  checkAtStart(): Promise<void>;
}

export function installTransparency(d: TransparencyDeps): Transparency | null {
  const tree = d.store.tree;
  if (!tree) return null;
  const signer = checkpointSigner(d.config, d.keys);
  const t = d.config.transparency ?? {};
  const issuer = new CheckpointIssuer(
    tree,
    signer,
    d.clock,
    { everyEvents: t.everyEvents ?? 1000, everySeconds: t.everySeconds ?? 60, witnesses: t.witnesses ?? [] },
    d.logger,
  );
  // The start check runs from ready(), after the master key check: with a wrong master key the
  // checkpoint key is wrong too, and that must stop the start as a key error, not as tampering.
  const checkAtStart = async (): Promise<void> => {
    const contradiction = await checkLogAgainstCheckpoint(d.store, signer);
    if (!contradiction) return;
    if (!d.acceptContradiction) throw new LogContradictsCheckpoint(contradiction.checkpoint, contradiction.problem);
    const data = {
      checkpointSize: contradiction.checkpoint.size,
      checkpointRoot: contradiction.checkpoint.root.toString('base64'),
      checkpointNote: contradiction.checkpoint.note,
      problem: contradiction.problem,
      actor: 'operator',
    };
    // The tree is rebuilt from the log as it is: later checkpoints describe this log, and are not
    // consistent with the old ones (a witness refuses them, as it should). The old checkpoint's
    // signed note stays in the override event, with the problem found.
    await tree.rebuild();
    await d.store.append('tlog-overrides', [
      { type: 'LogContradictionOverridden', data, metadata: { actor: 'operator:start --accept-log-contradiction' } },
    ]);
    d.logger.warn(data, 'started on a log that contradicts its latest checkpoint (--accept-log-contradiction, recorded in the log)');
    // A checkpoint of the log as it is now: the next start checks against it.
    await issuer.issue();
  };

  d.app.get(CHECKPOINT_PATH, async (_req, reply) => {
    const cp = await issuer.latest();
    if (!cp) return reply.code(404).type('text/plain; charset=utf-8').send('no checkpoint yet\n');
    return reply
      .type('text/plain; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('access-control-allow-origin', '*')
      .send(cp.note);
  });
  d.app.get(KEY_PATH, async (_req, reply) =>
    reply.type('text/plain; charset=utf-8').header('access-control-allow-origin', '*').send(`${signer.verifierKey}\n`),
  );
  return { issuer, checkAtStart };
}
