import {
  formatCheckpoint,
  treeRoot,
  type Clock,
  type Logger,
  type NoteSigner,
  type StoredCheckpoint,
  type TransparencyTree,
} from '../../core/index.js';
import { pushToWitnesses, type Witness } from './witness-push.js';

export interface IssuerSettings {
  everyEvents: number;
  everySeconds: number;
  witnesses: Witness[];
}

/**
 * Issues signed checkpoints of the log's tree (C2SP tlog-checkpoint in a signed note): when the
 * tree grew by `everyEvents` since the last one, or `everySeconds` after it if the tree grew at
 * all, and on demand. Each is recorded in the store's database, then pushed to the witnesses.
 * Several nodes may issue the same size: the record is idempotent and the note deterministic
 * (Ed25519 signatures are), so they agree.
 */
export class CheckpointIssuer {
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<unknown> | null = null;

  constructor(
    private readonly tree: TransparencyTree,
    private readonly signer: NoteSigner,
    private readonly clock: Clock,
    private readonly settings: IssuerSettings,
    private readonly logger: Logger,
  ) {}

  async latest(): Promise<StoredCheckpoint | null> {
    return (await this.tree.checkpoints(1))[0] ?? null;
  }

  /** Signs and records a checkpoint of the tree as it is now (none when the log is empty). */
  async issue(): Promise<StoredCheckpoint | null> {
    const size = await this.tree.size();
    if (size === 0) return null;
    const last = await this.latest();
    if (last && last.size === size) return last;
    const root = await treeRoot(this.tree, size);
    const note = this.signer.sign(formatCheckpoint({ origin: this.signer.name, size, root }));
    const cp: StoredCheckpoint = { size, root, note, issuedAt: this.clock.now().toISOString() };
    await this.tree.recordCheckpoint(cp);
    this.logger.info({ size, root: root.toString('base64') }, 'transparency checkpoint issued');
    if (this.settings.witnesses.length) await pushToWitnesses(this.tree, cp, this.settings.witnesses, this.clock, this.logger);
    return cp;
  }

  /** One look: issue when due. */
  async tick(): Promise<void> {
    const last = await this.latest();
    const size = await this.tree.size();
    const grown = size - (last?.size ?? 0);
    const age = last ? (this.clock.now().getTime() - Date.parse(last.issuedAt)) / 1000 : Infinity;
    if (grown >= this.settings.everyEvents || (grown > 0 && age >= this.settings.everySeconds)) await this.issue();
  }

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = this.tick()
        .catch((err: unknown) => this.logger.error({ err }, 'transparency checkpoint failed (will retry)'))
        .finally(() => (this.busy = null));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.busy;
  }
}
