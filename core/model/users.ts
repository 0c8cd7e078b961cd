import { randomUUID } from 'node:crypto';
import type { EventStore } from '../ports/event-store.js';
import { CommandHandler, foldStream, type CommandMeta, type CommandResult } from './command-handler.js';
import { lastRevocationPosition, userDecider, userStream, type UserCommand, type UserState } from './user.js';
import { claimReservation, releaseReservation, reservationHolder, normalizeEmail, identityKey } from './reservation.js';
import { InvalidInput } from '../errors.js';

export interface RegisterUser {
  email?: string | null;
  name?: string | null;
  admin?: boolean;
  via?: string;
  userId?: string;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

/**
 * The user application service: the commands the HTTP side, the CLI and the plugins all go
 * through (one code path, so a ban from the CLI is the same fact as a ban from the admin page).
 */
export class Users {
  constructor(
    private readonly store: EventStore,
    private readonly handler: CommandHandler = new CommandHandler(store),
    /** Names reservation streams by HMAC under this key (derived from the master key), not by a plain hash. */
    private readonly reservationKey?: Buffer,
  ) {}

  async load(userId: string): Promise<UserState> {
    return foldStream(userDecider, await this.store.readStream(userStream(userId)));
  }

  /**
   * Whether the holder of an email reservation no longer holds the address: it never came to exist
   * (a crash between the claim and its first event), or it was erased and the release never landed
   * (a crash between `UserErased` and the release; repeating the erasure cannot repair that once
   * the key, hence the address, is gone).
   */
  private readonly emailHolderGone = async (userId: string): Promise<boolean> => {
    const u = await this.load(userId);
    return !u.exists || u.erased;
  };

  async register(input: RegisterUser, meta: CommandMeta): Promise<CommandResult & { userId: string }> {
    const userId = input.userId ?? randomUUID();
    const email = input.email ? normalizeEmail(input.email) : null;
    if (email && !EMAIL.test(email)) throw new InvalidInput('not an email address', { path: 'email' });
    if (email) await claimReservation(this.store, 'email', email, userId, meta, this.emailHolderGone, this.reservationKey);
    const res = await this.handler.handle(
      userDecider,
      userStream(userId),
      { type: 'register', userId, email, name: input.name ?? null, admin: input.admin, via: input.via },
      meta,
    );
    return { ...res, userId };
  }

  async execute(userId: string, command: Exclude<UserCommand, { type: 'register' }>, meta: CommandMeta): Promise<CommandResult> {
    if (command.type === 'updateProfile' && command.email) {
      const email = normalizeEmail(command.email);
      if (!EMAIL.test(email)) throw new InvalidInput('not an email address', { path: 'email' });
      const before = await this.load(userId);
      await claimReservation(this.store, 'email', email, userId, meta, this.emailHolderGone, this.reservationKey);
      const res = await this.handler.handle(userDecider, userStream(userId), { ...command, email }, meta);
      if (before.email && before.email !== email)
        await releaseReservation(this.store, 'email', before.email, userId, meta, this.reservationKey);
      return res;
    }
    if (command.type === 'linkIdentity') {
      await claimReservation(
        this.store,
        'identity',
        identityKey(command.issuer, command.subject),
        userId,
        meta,
        async (h) => {
          const holder = await this.load(h);
          return (
            !holder.exists || holder.erased || !holder.identities.some((i) => i.issuer === command.issuer && i.subject === command.subject)
          );
        },
        this.reservationKey,
      );
    }
    if (command.type === 'erase') {
      const before = await this.load(userId);
      if (before.erased) {
        // Repeated (docs/security/erasure.md: safe to repeat): nothing new is recorded, but what a
        // crash after the first `UserErased` may have left undone is finished: the key is destroyed.
        await this.store.destroyUserKey?.(userId);
        const last = (await this.store.readStream(userStream(userId))).at(-1)!;
        return { events: [], position: last.position, revision: last.revision };
      }
      const res = await this.handler.handle(userDecider, userStream(userId), command, meta);
      if (before.email) await releaseReservation(this.store, 'email', before.email, userId, meta, this.reservationKey);
      for (const i of before.identities)
        await releaseReservation(this.store, 'identity', identityKey(i.issuer, i.subject), userId, meta, this.reservationKey);
      // Last: the releases above needed the email and subjects in clear. A crash before this line
      // is repaired by every node's subscription, which destroys the key when it sees UserErased.
      await this.store.destroyUserKey?.(userId);
      return res;
    }
    const res = await this.handler.handle(userDecider, userStream(userId), command, meta);
    if (command.type === 'unlinkIdentity') {
      await releaseReservation(this.store, 'identity', identityKey(command.issuer, command.subject), userId, meta, this.reservationKey);
    }
    return res;
  }

  /**
   * Whether the user's credentials were voided after log position `loginPosition` (a revocation,
   * ban, disable or erasure). Authoritative: reads the user's stream, so a node whose read models
   * lag still refuses.
   */
  async revokedSince(userId: string, loginPosition: number): Promise<boolean> {
    return lastRevocationPosition(await this.store.readStream(userStream(userId))) > loginPosition;
  }

  /** Authoritative (reads the reservation stream, not a projection). */
  async findByIdentity(issuer: string, subject: string): Promise<string | null> {
    return reservationHolder(this.store, 'identity', identityKey(issuer, subject), this.reservationKey);
  }

  async findByEmail(email: string): Promise<string | null> {
    return reservationHolder(this.store, 'email', normalizeEmail(email), this.reservationKey);
  }
}
