/** One mail the module sends (password reset, email verification). */
export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
}

/**
 * Delivers a mail, or rejects. The module calls it only from its outbox (MailOutboxService), never
 * from a request: a rejection is retried later with backoff, and nobody waits for it.
 */
export interface MailTransport {
  send(message: MailMessage): Promise<void>;
}
