import { DomainError, type Decider, type EventOf } from '../../plugin/index.js';

/**
 * One back-channel logout notification (stream `oauth-bcl-<hash>`) as a Decider: claimed once
 * across nodes (the claimer sends it), then finished once, delivered or failed.
 */
export type NoticeEvent = EventOf<'BackChannelLogoutClaimed'> | EventOf<'BackChannelLogoutDelivered'> | EventOf<'BackChannelLogoutFailed'>;

export type NoticeCommand =
  | { type: 'claim'; notice: EventOf<'BackChannelLogoutClaimed'>['data'] }
  | { type: 'finish'; outcome: EventOf<'BackChannelLogoutDelivered'> | EventOf<'BackChannelLogoutFailed'> };

export interface NoticeState {
  claimed: boolean;
  finished: boolean;
}

export class NoticeRefused extends DomainError {
  constructor(readonly reason: 'claimed_elsewhere' | 'not_claimed') {
    super('conflict', `back-channel logout notice: ${reason}`);
  }
}

export const noticeDecider: Decider<NoticeCommand, NoticeState, NoticeEvent> = {
  initialState: () => ({ claimed: false, finished: false }),
  evolve: (s, e) => (e.type === 'BackChannelLogoutClaimed' ? { ...s, claimed: true } : { ...s, finished: true }),
  decide: (c, s) => {
    if (c.type === 'claim') {
      if (s.claimed) throw new NoticeRefused('claimed_elsewhere');
      return [{ type: 'BackChannelLogoutClaimed', data: c.notice }];
    }
    if (!s.claimed) throw new NoticeRefused('not_claimed');
    return s.finished ? [] : [c.outcome];
  },
};
