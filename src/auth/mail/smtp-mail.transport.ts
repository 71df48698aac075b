import nodemailer, { type Transporter } from 'nodemailer';
import type { MailMessage, MailTransport } from './mail-transport.interface.js';

/** Seconds nodemailer may spend connecting to, greeting, or waiting on the SMTP server. */
const SMTP_TIMEOUT_MS = 10_000;

/**
 * Sends through an SMTP server with nodemailer, configured by a URL
 * (`smtp://user:pass@host:587` with STARTTLS required, `smtps://…:465`; plain SMTP only to
 * localhost). One connection per mail.
 */
export class SmtpMailTransport implements MailTransport {
  private readonly transporter: Transporter;

  constructor(url: string) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') {
      throw new Error('SMTP URL must start with smtp:// or smtps://');
    }
    // Links must not cross the network in the clear: smtp:// must upgrade with STARTTLS (a
    // stripped offer fails the send) unless the server is this machine.
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname);
    this.transporter = nodemailer.createTransport({
      url,
      requireTLS: parsed.protocol === 'smtp:' && !loopback,
      connectionTimeout: SMTP_TIMEOUT_MS,
      greetingTimeout: SMTP_TIMEOUT_MS,
      socketTimeout: SMTP_TIMEOUT_MS,
    });
  }

  async send(message: MailMessage): Promise<void> {
    await this.transporter.sendMail(message);
  }
}
