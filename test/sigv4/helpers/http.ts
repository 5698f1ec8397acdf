/**
 * Minimal raw HTTP/1.1 request reader for the test vectors: request line, header lines (with
 * obs-fold continuation lines), blank line, body bytes. Accepts LF or CRLF line ends, and files
 * that end right after the last header line (botocore `.sreq`).
 */
import type { SigV4Request } from '../../../src/auth/sigv4/index.js';

export function parseRawHttpRequest(raw: Uint8Array): SigV4Request {
  let headEnd = raw.length;
  let bodyStart = raw.length;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x0a) continue;
    if (raw[i + 1] === 0x0a) {
      headEnd = i;
      bodyStart = i + 2;
      break;
    }
    if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) {
      headEnd = i;
      bodyStart = i + 3;
      break;
    }
  }
  const head = Buffer.from(raw.subarray(0, headEnd)).toString('utf8');
  const lines = head.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const requestLine = lines[0] ?? '';
  const firstSpace = requestLine.indexOf(' ');
  const versionAt = requestLine.lastIndexOf(' HTTP/');
  if (firstSpace <= 0 || versionAt <= firstSpace) throw new Error(`bad request line: ${requestLine}`);
  const method = requestLine.slice(0, firstSpace);
  const rawTarget = requestLine.slice(firstSpace + 1, versionAt);
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      // obs-fold: the line break and the leading whitespace read as one space (RFC 9112 5.2).
      const prev = headers[headers.length - 1];
      if (prev === undefined) throw new Error('continuation line before any header');
      prev[1] = `${prev[1]} ${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`bad header line: ${line}`);
    headers.push([line.slice(0, colon), line.slice(colon + 1)]);
  }
  return { method, rawTarget, headers, body: Buffer.from(raw.subarray(bodyStart)) };
}
