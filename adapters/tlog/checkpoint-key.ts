import fs from 'node:fs';
import { NoteSigner } from '../../core/index.js';
import type { BrokerConfig } from '../../config/types.js';
import { ConfigError } from '../../config/errors.js';
import type { Keys } from '../kernel/master-key.js';

/**
 * The checkpoint origin (also the signed-note key name): configured, else `<baseUrl hostname>/broker-log`.
 * The hostname without the port: the key name is part of the key ID, so it must not change when
 * the port does (PORT=0 in tests, a proxy in front); a broker that moves domain sets it.
 */
export function checkpointOrigin(config: BrokerConfig): string {
  return config.transparency?.origin ?? `${new URL(config.server.baseUrl).hostname}/broker-log`;
}

/**
 * The Ed25519 key that signs checkpoints: a seed file configured apart from the master key (an
 * operator who keeps it on other storage), else derived from the master key, so every node of one
 * broker signs with the same key without sharing anything more.
 */
export function checkpointSigner(config: BrokerConfig, keys: Keys): NoteSigner {
  const file = config.transparency?.keyFile;
  if (!file) return new NoteSigner(checkpointOrigin(config), keys.derive('tlog-checkpoint'));
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`transparency.keyFile: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!/^[0-9a-f]{64}$/i.test(text)) throw new ConfigError(`transparency.keyFile: ${file} must hold an Ed25519 seed as 64 hex digits`);
  return new NoteSigner(checkpointOrigin(config), Buffer.from(text, 'hex'));
}
