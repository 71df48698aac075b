import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { eventually } from './latch.js';
import { freePort } from './ports.js';

export interface CapturedMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/**
 * A real SMTP server in the test process (smtp-server): the module's SmtpMailTransport (nodemailer)
 * talks SMTP to it, and each message is parsed (mailparser) as a mail client would.
 */
export class TestMailServer {
  readonly received: CapturedMail[] = [];
  /** Messages being received now (their DATA not yet answered), and the most ever at once. */
  inData = 0;
  maxInData = 0;
  /** While set, each message's DATA is answered only when this resolves (holdDeliveries). */
  private held: Promise<void> | null = null;
  private server: SMTPServer | null = null;

  private constructor(
    readonly port: number,
    readonly host: string,
  ) {}

  /** `host`: the address it listens on (any of 127.0.0.0/8 is this machine). */
  static async start(host = '127.0.0.1'): Promise<TestMailServer> {
    const mail = new TestMailServer(await freePort(), host);
    await mail.up();
    return mail;
  }

  get url(): string {
    return `smtp://${this.host}:${this.port}`;
  }

  /** Starts (again) on the same port. */
  async up(): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, _session, callback) => {
        this.inData += 1;
        this.maxInData = Math.max(this.maxInData, this.inData);
        const answer = (error?: Error) => {
          this.inData -= 1;
          callback(error);
        };
        simpleParser(stream).then(
          async (parsed: ParsedMail) => {
            await this.held;
            const to = Array.isArray(parsed.to) ? parsed.to[0] : parsed.to;
            this.received.push({
              to: to?.value[0]?.address ?? '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
            });
            answer();
          },
          (error: Error) => answer(error),
        );
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.server = server;
  }

  /**
   * Holds every message from now on at the end of its DATA (a slow mail server) until the
   * returned function is called: `inData` then counts the mails a sender has in flight.
   */
  holdDeliveries(): () => void {
    let release!: () => void;
    this.held = new Promise((resolve) => (release = resolve));
    return () => {
      this.held = null;
      release();
    };
  }

  /** Stops accepting connections: a mail server that is down. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The mails received for an address so far; with `page`, only those linking to it (`reset-password`, `verify-email`). */
  to(address: string, page?: string): CapturedMail[] {
    return this.received.filter(
      (mail) =>
        mail.to.toLowerCase() === address.toLowerCase() &&
        (page === undefined || mail.text.includes(`/${page}?token=`)),
    );
  }

  /** Waits for the `count`-th mail to an address linking to `page` (1: the first) and returns it. */
  async nth(address: string, page: string, count = 1, timeoutMs = 5_000): Promise<CapturedMail> {
    await eventually(() => this.to(address, page).length >= count, timeoutMs);
    return this.to(address, page)[count - 1];
  }
}

/** The token of the link to `page` (`reset-password`, `verify-email`) in a mail's text. */
export function tokenIn(mail: CapturedMail, page: string): string {
  const match = new RegExp(`/${page}\\?token=([A-Za-z0-9_-]+)`).exec(mail.text);
  if (!match) throw new Error(`no ${page} link in: ${mail.text}`);
  return match[1];
}

/** The whole link to `page` in a mail's text. */
export function linkIn(mail: CapturedMail, page: string): string {
  const match = new RegExp(`https?://\\S+/${page}\\?token=[A-Za-z0-9_-]+`).exec(mail.text);
  if (!match) throw new Error(`no ${page} link in: ${mail.text}`);
  return match[0];
}
