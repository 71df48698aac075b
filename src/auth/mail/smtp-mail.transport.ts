import nodemailer, { type Transporter } from 'nodemailer';
import type { MailMessage, MailTransport } from './mail-transport.interface.js';
import { parseSmtpUrl, type SmtpTransportOptions } from './smtp-url.js';

/** Seconds nodemailer may spend connecting to, greeting, or waiting on the SMTP server. */
const SMTP_TIMEOUT_MS = 10_000;

/**
 * Sends through an SMTP server with nodemailer, configured by a URL
 * (`smtp://user:pass@host:587` with STARTTLS required, `smtps://…:465`; plain SMTP only to
 * localhost or to a relay named in `allowPlaintextTo`). One connection per mail. The URL is
 * parsed here (parseSmtpUrl), and nodemailer is given the resulting options, never the URL: the
 * host checked is the host connected to. A URL that weakens TLS is refused in the constructor.
 */
export class SmtpMailTransport implements MailTransport {
  private readonly transporter: Transporter;

  constructor(url: string, options: SmtpTransportOptions = {}) {
    this.transporter = nodemailer.createTransport({
      ...parseSmtpUrl(url, options),
      connectionTimeout: SMTP_TIMEOUT_MS,
      greetingTimeout: SMTP_TIMEOUT_MS,
      socketTimeout: SMTP_TIMEOUT_MS,
    });
  }

  async send(message: MailMessage): Promise<void> {
    await this.transporter.sendMail(message);
  }
}
