import nodemailer, { type Transporter } from 'nodemailer';
import type { MailMessage, MailTransport } from '../interfaces/mail-transport.interface.js';

/** Seconds nodemailer may spend connecting to, greeting, or waiting on the SMTP server. */
const SMTP_TIMEOUT_MS = 10_000;

/**
 * Sends through an SMTP server with nodemailer, configured by a URL
 * (`smtp://user:pass@host:587`, `smtps://…:465`). One connection per mail.
 */
export class SmtpMailTransport implements MailTransport {
  private readonly transporter: Transporter;

  constructor(url: string) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') {
      throw new Error('SMTP URL must start with smtp:// or smtps://');
    }
    this.transporter = nodemailer.createTransport({
      url,
      connectionTimeout: SMTP_TIMEOUT_MS,
      greetingTimeout: SMTP_TIMEOUT_MS,
      socketTimeout: SMTP_TIMEOUT_MS,
    });
  }

  async send(message: MailMessage): Promise<void> {
    await this.transporter.sendMail(message);
  }
}
