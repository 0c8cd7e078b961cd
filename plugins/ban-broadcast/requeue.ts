import { NotFound, type EventStore } from '../../plugin/index.js';
import { broadcastStream, deliveryStream } from './events.js';

/**
 * An operator's "redeliver": one more round for one (ban, site), whatever its state. The running
 * broker sees the event in the log and sends it again with the same `webhook-id`. Works from the
 * admin page and from the CLI (another process: the broker picks it up from the store).
 */
export async function requeueDelivery(store: EventStore, banEventId: string, siteId: string, actor: string): Promise<number> {
  const [queued] = await store.readStream(broadcastStream(banEventId));
  if (!queued || !(queued.data as { siteIds: string[] }).siteIds.includes(siteId)) {
    throw new NotFound(`no broadcast of ${banEventId} to site ${siteId}`);
  }
  const res = await store.append(deliveryStream(banEventId, siteId), [
    { type: 'BanNotificationRequeued', data: { banEventId, siteId, actor }, metadata: { actor } },
  ]);
  return res.position;
}
