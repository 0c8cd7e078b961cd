import { Writable } from 'node:stream';
import { pino } from 'pino';
import { bootBroker, type Broker, type Plugin } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { brokerLoggerOptions } from '../../../adapters/http/logging.js';
import type { BrokerConfig } from '../../../config/types.js';

/** Collects what the broker logs, with the kernel's own logger options (redaction included). */
export class LogCapture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/**
 * A plugin that does what a careless integrator might: a JSON route with a schema, and a log line
 * with the whole request headers and body in it. Redaction has to hold even then.
 */
export const probePlugin: Plugin = {
  name: 'probe',
  register(ctx) {
    ctx.web.app.post(
      '/probe/echo',
      {
        schema: {
          body: {
            type: 'object',
            properties: { n: { type: 'integer' }, password: { type: 'string' } },
            required: ['n'],
            additionalProperties: false,
          },
        },
      },
      async (req) => {
        req.log.info({ headers: req.headers, body: req.body }, 'probe echo');
        return { n: (req.body as { n: number }).n };
      },
    );
    // A warning from the request's logger and one from the plugin scope's own logger.
    ctx.web.app.get('/probe/warn', async (req) => {
      req.log.warn({ password: 'PASSWORD-IN-WARN' }, 'probe warn');
      ctx.web.app.log.warn('probe scope warn');
      return { ok: true };
    });
    // What fastify has hung on node's response by the time the handler runs.
    ctx.web.app.get('/probe/listeners', async (_req, reply) => ({
      finish: reply.raw.listenerCount('finish'),
      error: reply.raw.listenerCount('error'),
    }));
    // A line in fastify's own shape, with the whole request and reply in it.
    ctx.web.app.get('/probe/shape', async (req, reply) => {
      reply.log.warn({ req, res: reply }, 'probe shape');
      return { ok: true };
    });
    ctx.web.app.get('/probe/boom', async () => {
      throw new Error('internal detail that must not reach a client');
    });
  },
};

export function testConfig(): BrokerConfig {
  return {
    server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
    dataDir: '/nonexistent',
    store: { kind: 'memory' },
    secrets: { masterKey: 'x'.repeat(32) },
    session: { absoluteSeconds: 3600, idleSeconds: 600 },
    log: { level: 'info' },
    admin: { apiTokens: [] },
    sites: [],
    plugins: [],
  };
}

/** `plain`: a pino logger with none of the broker's options (no redaction, no serializers). */
export async function bootProbe(level = 'info', plain = false): Promise<{ broker: Broker; logs: LogCapture }> {
  const logs = new LogCapture();
  const broker = await bootBroker(testConfig(), {
    store: new MemoryEventStore(),
    logger: plain ? pino({ level }, logs) : pino(brokerLoggerOptions(level), logs),
    plugins: [{ plugin: probePlugin }],
  });
  await broker.ready();
  return { broker, logs };
}
