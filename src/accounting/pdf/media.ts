/**
 * Is a `GET /{document}/{dockey}` asking for the document as a PDF, and with which template?
 *
 * SQL Account's print integrations send `Content-Type: application/pdf;template=<name>` on the
 * body-less GET; latchkey also takes the same media type in `Accept`. Template names travel as
 * clients write them: unquoted with spaces (`template=Sales Invoice 8`) or quoted
 * (`template="Sales Invoice 8"`), so the header is read with content-type's lenient parser, which
 * also walks the comma-separated ranges of an `Accept` header.
 *
 * - `Content-Type` naming `application/pdf` decides, whatever `Accept` says (clients commonly add
 *   `Accept: application/json` to every request).
 * - Otherwise `Accept` asks for a PDF when its best `application/pdf` range has a weight above 0
 *   and above that of `application/json`; wildcard ranges (`application/*` and the any-type range)
 *   never do, so browsers and default client headers keep getting JSON.
 * - Anything else (no header, `application/json`, an unparseable value) is the JSON answer.
 */
import { parse } from 'content-type';

export const PDF_MEDIA_TYPE = 'application/pdf';

export interface PdfRequest {
  /** The `template` parameter, trimmed; `undefined` when absent or empty (the default template). */
  readonly template: string | undefined;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

const headerValue = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(', ') : value;

function templateOf(parameters: Record<string, string>): string | undefined {
  const template = parameters.template?.trim();
  return template ? template : undefined;
}

/** An `Accept` weight: absent is 1; a malformed one makes the range count for nothing. */
function weightOf(q: string | undefined): number {
  if (q === undefined) return 1;
  const n = Number(q.trim());
  return q.trim() !== '' && Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0;
}

function fromAccept(accept: string): PdfRequest | undefined {
  let pdf: { weight: number; template: string | undefined } | undefined;
  let json = 0;
  let start = 0;
  // Each parse stops at the comma that ends a range (quoted commas are skipped) and says where.
  while (start < accept.length) {
    const range = parse(accept, { comma: true, start });
    start = range.index + 1;
    const weight = weightOf(range.parameters.q);
    if (range.type === PDF_MEDIA_TYPE) {
      if (weight > 0 && (!pdf || weight > pdf.weight))
        pdf = { weight, template: templateOf(range.parameters) };
    } else if (range.type === 'application/json') {
      json = Math.max(json, weight);
    }
  }
  return pdf && pdf.weight > json ? { template: pdf.template } : undefined;
}

/** The PDF a request asks for, or `undefined` for the JSON answer. */
export function pdfRequested(headers: Headers): PdfRequest | undefined {
  const contentType = headerValue(headers['content-type']);
  if (contentType && contentType.trim() !== '') {
    const media = parse(contentType);
    if (media.type === PDF_MEDIA_TYPE) return { template: templateOf(media.parameters) };
  }
  const accept = headerValue(headers.accept);
  return accept ? fromAccept(accept) : undefined;
}
