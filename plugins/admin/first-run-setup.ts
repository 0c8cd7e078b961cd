import type { Logger, ReadModels, Reactor } from '../../core/index.js';
import type { SetupTokens } from './setup-tokens.js';

/**
 * Container key of the `FirstRunSetup` handle: how an embedding process or a test reads the setup
 * URL issued at this start, since the log never carries it.
 */
export const FIRST_RUN_SETUP = Symbol.for('broker.admin.FirstRunSetup');

export interface FirstRunSetup {
  /** The one-time setup URL issued at this start (it may since have been used); undefined if none was needed. */
  readonly url: string | undefined;
}

export interface FirstRunSetupDeps {
  tokens: SetupTokens;
  read: ReadModels;
  logger: Logger;
  baseUrl: string;
  ttlSeconds: number;
  /** Where the operator reads the URL; null prints nothing (embedding, tests). */
  console: NodeJS.WritableStream | null;
}

/**
 * At start, once the read models have caught up (reactors start after that): no admin yet means a
 * new one-time setup URL (seed 000). The token is a credential for the broker's first admin, so it
 * goes to the operator's console only: logs are shipped, retained and read by more people than the
 * operator, and must never hold secrets (CONVENTIONS). The log says that setup is pending, no more.
 * Only the token's hash is stored.
 */
export function firstRunSetup(deps: FirstRunSetupDeps): Reactor & FirstRunSetup {
  let url: string | undefined;
  return {
    name: 'admin.first-run-setup',
    get url() {
      return url;
    },
    async start() {
      const hasAdmin = deps.read.users.hasAdmin();
      if (hasAdmin || (await deps.tokens.bootstrapped())) return;
      const token = await deps.tokens.issue(deps.ttlSeconds);
      url = `${deps.baseUrl}/admin/setup?token=${token}`;
      deps.logger.warn(
        deps.console
          ? 'first-run setup pending: open the one-time setup URL printed on the console (stderr)'
          : 'first-run setup pending: the setup URL is not printed (admin setup.printUrl is false)',
      );
      deps.console?.write(`\nNo administrator yet. Create the first one here (works once):\n  ${url}\n\n`);
    },
    stop() {},
  };
}
