/** The SMTP transport of the outbox worker: nodemailer, configured from SMTP_URL. */
import nodemailer from 'nodemailer';
import type { SmtpConfig } from '../config.js';
import type { Envelope, MailTransport } from './outbox.js';

/** Timeouts stay well under the outbox lease (5 min), so a hung conversation never outlives its claim. */
const CONNECTION_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 30_000;

export function smtpTransport(smtp: SmtpConfig): MailTransport {
  const transporter = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTLS,
    ignoreTLS: smtp.ignoreTLS,
    auth: smtp.auth ? { user: smtp.auth.user, pass: smtp.auth.pass } : undefined,
    tls: { rejectUnauthorized: smtp.rejectUnauthorized },
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    greetingTimeout: CONNECTION_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
  });
  return {
    async send(message: Envelope): Promise<void> {
      await transporter.sendMail({
        from: message.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        messageId: message.messageId,
        // Quoted-printable keeps ASCII text readable in the raw message (and in mail logs).
        encoding: 'quoted-printable',
      });
    },
    close(): void {
      transporter.close();
    },
  };
}
