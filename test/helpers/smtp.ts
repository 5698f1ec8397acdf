/** A real SMTP peer for tests (the smtp-server package) that records every message it accepts. */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll } from 'vitest';

export interface CapturedMail {
  from: string;
  to: string[];
  raw: string;
  /** The raw message with quoted-printable undone (soft line breaks and =XX escapes). */
  decoded: string;
  subject: string;
  messageId: string | undefined;
}

function decodeQuotedPrintable(raw: string): string {
  const joined = raw.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const c = joined[i] as string;
    const hex = joined.slice(i + 1, i + 3);
    if (c === '=' && /^[0-9A-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** RFC 2047 encoded words (`=?UTF-8?Q?…?=`, `=?UTF-8?B?…?=`), as nodemailer writes headers. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_all, _charset: string, enc: string, text: string) => {
      if (enc.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8');
      return decodeQuotedPrintable(text.replace(/_/g, ' '));
    });
}

function header(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const match = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(unfolded);
  return match?.[1] === undefined ? undefined : decodeWords(match[1].trim());
}

export class TestSmtp {
  readonly messages: CapturedMail[] = [];
  /** While set, every message is refused at DATA with this reply. */
  refuse: { code: number; message: string } | null = null;
  /** Connections seen (accepted or not). */
  connections = 0;
  private server: SMTPServer | undefined;

  private constructor(public port: number) {}

  static async start(port = 0): Promise<TestSmtp> {
    const smtp = new TestSmtp(port);
    await smtp.listen();
    return smtp;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}?starttls=off`;
  }

  /** Listen (again) on the same port. */
  async listen(): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      closeTimeout: 500,
      onConnect: (_session, callback) => {
        this.connections += 1;
        callback();
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          if (this.refuse) {
            const error = new Error(this.refuse.message) as Error & { responseCode: number };
            error.responseCode = this.refuse.code;
            return callback(error);
          }
          const raw = Buffer.concat(chunks).toString('utf8');
          const mailFrom = session.envelope.mailFrom;
          this.messages.push({
            from: mailFrom ? mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            decoded: decodeQuotedPrintable(raw),
            subject: header(raw, 'Subject') ?? '',
            messageId: header(raw, 'Message-ID'),
          });
          callback();
        });
      },
    });
    server.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stop listening (the peer is "down"); `listen()` brings it back on the same port. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  to(address: string): CapturedMail[] {
    return this.messages.filter((m) => m.to.includes(address));
  }
}

/**
 * A TestSmtp for the enclosing describe: beforeAll starts it, afterAll stops it. The object
 * returned stands for it once started (use it in hooks and tests, not while collecting).
 */
export function useTestSmtp(): TestSmtp {
  let started: TestSmtp | undefined;
  beforeAll(async () => {
    started = await TestSmtp.start();
  });
  afterAll(async () => started?.stop());
  const current = (): TestSmtp => {
    if (!started)
      throw new Error('useTestSmtp: the SMTP server is not started yet (use it in a hook or test)');
    return started;
  };
  return new Proxy({} as TestSmtp, {
    get(_target, property) {
      const smtp = current();
      const value = Reflect.get(smtp, property, smtp);
      return typeof value === 'function' ? value.bind(smtp) : value;
    },
    set(_target, property, value) {
      const smtp = current();
      return Reflect.set(smtp, property, value, smtp);
    },
  });
}
