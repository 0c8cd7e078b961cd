import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** What a response step knows of its route, fixed when the route is registered. */
export interface RouteFacts {
  /** The route pattern (`/users/:id`); undefined for the not-found handler. */
  url: string | undefined;
  config: unknown;
}

/** Per-response work of the kernel, made once for each route (null: nothing to do on this route). */
export type ResponseStep = (route: RouteFacts) => ((req: FastifyRequest, reply: FastifyReply) => void) | null;

export interface ResponseHook {
  /**
   * Adds the steps, as one onSend hook, to every route registered on `app` from now on, and to
   * every not-found answer (the root's or a plugin scope's 404 handler, `reply.callNotFound()`).
   */
  install(app: FastifyInstance): void;
}

/**
 * The kernel's per-response steps (security headers, request metrics) run as one route-level
 * onSend hook, bound to each route when it is registered: the route's facts are read once there,
 * not through `req.routeOptions` (which builds a new object on every access) on every response,
 * and all steps share one hook (each hook costs every request more than the small step in it).
 * Route-level hooks run after the app's and scopes' own onSend hooks, so a header a plugin sets
 * in its hooks is there before the security headers look.
 *
 * Not-found answers go through no route, so an app-wide onSend hook runs the steps for them
 * (`req.is404`: any scope's 404 handler, and `reply.callNotFound()`), labelled `(unmatched)`; on a
 * route's own answers it only reads that flag.
 */
export function responseHook(steps: ResponseStep[]): ResponseHook {
  const hookFor = (route: RouteFacts) => {
    const run = steps.map((s) => s(route)).filter((f): f is NonNullable<typeof f> => f !== null);
    return (req: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void): void => {
      for (let i = 0; i < run.length; i++) run[i](req, reply);
      done(null, payload);
    };
  };
  return {
    install(app) {
      const notFound = hookFor({ url: undefined, config: {} });
      app.addHook('onSend', (req, reply, payload, done) => (req.is404 ? notFound(req, reply, payload, done) : done(null, payload)));
      // A GET's HEAD twin is registered through here too, with its own copy of the hook (fastify
      // copies the GET's options before this runs), so a HEAD answer is counted once.
      app.addHook('onRoute', (route) => {
        route.onSend = ([] as unknown[]).concat(
          route.onSend ?? [],
          hookFor({ url: route.url, config: route.config }),
        ) as typeof route.onSend;
      });
    },
  };
}
