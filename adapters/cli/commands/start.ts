import { loadConfig } from '../../../config/load.js';
import { parseArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { UsageError, out, type CliIo } from '../io.js';

export const startCommand: CliCommand = {
  name: 'start',
  summary: 'start the broker (HTTP server) with the loaded config; stops gracefully on SIGINT/SIGTERM',
  usage: 'broker start [--config <file>] [--accept-log-contradiction]',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { booleans: ['accept-log-contradiction'] });
    if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
    const { config, file } = loadConfig({ argv, env: io.env, cwd: io.cwd });
    // Loaded here, not at the top: the offline commands never pay for fastify and the plugins.
    const { bootBroker } = await import('../../kernel/boot.js');
    // --accept-log-contradiction: start on a log that contradicts its latest signed checkpoint (recorded as an event).
    const broker = await bootBroker(config, { acceptLogContradiction: args.flags.has('accept-log-contradiction') });
    // listen() resolves once the read models have caught up with the log, which after a version
    // change or on a long log takes minutes: a SIGTERM meanwhile (a rolling deploy) stops the
    // broker there, instead of waiting for the end of the catch-up (the checkpoints keep what was
    // applied). The handlers of main.ts have already replaced the default exit on these signals.
    const listening = broker.listen();
    let url: string;
    try {
      const first = await Promise.race([listening.then((u) => ({ url: u })), io.stopSignal.then((signal) => ({ signal }))]);
      if ('signal' in first) {
        out(io, `${first.signal}: stopping while the read models catch up`);
        await broker.stop();
        await listening.catch(() => {}); // rejects: the projections stopped under it
        out(io, 'stopped');
        return 0;
      }
      url = first.url;
    } catch (e) {
      await broker.stop();
      throw e;
    }
    const plugins = config.plugins.map((p) => p.name).join(', ') || 'none';
    out(
      io,
      `broker listening on ${url} (public URL ${config.server.baseUrl}; store ${config.store.kind}; config ${file ?? 'defaults'}; plugins ${plugins})`,
    );
    const signal = await io.stopSignal;
    out(io, `${signal}: stopping (draining in-flight requests)`);
    await broker.stop();
    out(io, 'stopped');
    return 0;
  },
};
