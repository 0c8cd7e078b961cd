import nodemailer from 'nodemailer';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/** Sends mail. Absent (null) when no SMTP server is configured: callers then print or show links. */
export interface Mailer {
  send(m: MailMessage): Promise<void>;
  close(): void;
}

export interface MailConfig {
  /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://host:465`; nodemailer's URL form. */
  url: string;
  /** The From header, e.g. `Identity broker <login@example.com>`. */
  from: string;
}

/** A nodemailer SMTP transport from the configured URL (pooled, so bursts reuse connections). */
export function createMailer(cfg: MailConfig | undefined): Mailer | null {
  if (!cfg) return null;
  const transport = nodemailer.createTransport(cfg.url.includes('?') ? `${cfg.url}&pool=true` : `${cfg.url}?pool=true`);
  return {
    async send(m) {
      await transport.sendMail({ from: cfg.from, to: m.to, subject: m.subject, text: m.text });
    },
    close: () => transport.close(),
  };
}
