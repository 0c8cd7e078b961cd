import type { Logger, ReadModels, Reactor, Token } from '../../plugin/index.js';
import type { SetupTokens } from './setup-tokens.js';

/**
 * Container key of the `FirstRunSetup` handle: how an embedding process or a test reads the setup
 * URL issued at this start, since the log never carries it.
 */
export const FIRST_RUN_SETUP = Symbol.for('broker.admin.FirstRunSetup') as Token<FirstRunSetup>;

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
  /** This node (`cluster.nodeId`): recorded as the link's issuer, named by the other nodes. */
  nodeId: string;
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
      const issued = await deps.tokens.issueOnce(deps.ttlSeconds, deps.nodeId);
      if (!('token' in issued)) {
        // Another node's link is still pending: printing a new one would void it (only the latest works).
        const from = issued.pendingFrom ?? 'another node';
        deps.logger.warn(
          { issuedBy: issued.pendingFrom, expiresAt: issued.expiresAt },
          `first-run setup pending: use the one-time setup URL printed by ${from}`,
        );
        deps.console?.write(
          `\nNo administrator yet. Setup is pending: use the one-time URL printed by node ${from} (valid until ${issued.expiresAt}); after that, the next node to start prints a new one.\n\n`,
        );
        return;
      }
      url = `${deps.baseUrl}/admin/setup?token=${issued.token}`;
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
