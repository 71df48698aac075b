import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import nodemailer, { type Transporter } from 'nodemailer';
import type { MailMessage, MailTransport } from './mail-transport.interface.js';

/**
 * Development without a mail server: each mail is composed by nodemailer as it would be sent
 * and written as an `.eml` file (owner-only) into a directory, with one log line saying where.
 * The file holds the link; the log line does not.
 */
export class FileMailTransport implements MailTransport {
  private readonly logger = new Logger('Mail');
  private readonly composer: Transporter;
  private written = 0;

  constructor(private readonly directory: string) {
    this.composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  }

  async send(message: MailMessage): Promise<void> {
    const info = (await this.composer.sendMail(message)) as { message: Buffer };
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    this.written += 1;
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const file = join(this.directory, `${stamp}-${process.pid}-${this.written}.eml`);
    await writeFile(file, info.message, { mode: 0o600, flag: 'wx' });
    this.logger.log(`Mail "${message.subject}" to ${message.to} written to ${file}`);
  }
}
