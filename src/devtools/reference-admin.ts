/**
 * The admin API's part of the /docs page, rendered on the server from the contract's operations
 * (plain HTML: no CDN, no scripts), so the page and /openapi.json never disagree.
 */
import { errorsOf, type Operation, operations } from '../contract/operations.js';
import { ERROR_CODES, ERRORS } from '../errors.js';

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

type Json = { type?: unknown; properties?: Record<string, Json>; required?: string[]; description?: string };

/** A short type: `string`, `integer 1..200`, `"active" | "disabled"`, `string[]`… */
function typeText(schema: Json & Record<string, unknown>): string {
  if (Array.isArray(schema.anyOf))
    return (schema.anyOf as Json[]).map((s) => typeText(s as never)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.type === 'array') return `${typeText((schema.items ?? {}) as never)}[]`;
  const range =
    schema.minimum !== undefined || schema.maximum !== undefined
      ? ` ${schema.minimum ?? ''}..${schema.maximum ?? ''}`
      : schema.maxLength !== undefined
        ? ` ≤ ${schema.maxLength}`
        : '';
  return `${String(schema.type ?? 'any')}${range}`;
}

function fields(title: string, schema: unknown): string {
  const object = JSON.parse(JSON.stringify(schema ?? {})) as Json;
  const entries = Object.entries(object.properties ?? {});
  if (entries.length === 0) return '';
  const rows = entries
    .map(
      ([name, s]) =>
        `<tr><td><code>${esc(name)}</code></td><td>${esc(typeText(s as never))}</td><td>${
          (object.required ?? []).includes(name) ? 'required' : ''
        }</td><td>${esc(s.description ?? '')}</td></tr>`,
    )
    .join('');
  return `<p>${esc(title)}</p><table><tbody>${rows}</tbody></table>`;
}

function operationHtml(op: Operation): string {
  const path = op.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
  const who =
    op.auth === 'none'
      ? 'open'
      : op.permission
        ? `needs <code>${esc(op.permission)}</code>`
        : 'valid credentials';
  const answers = Object.keys(op.schema.response).join(', ');
  return `<section id="${esc(op.schema.operationId)}">
<h3><code>${esc(op.method)} ${esc(path)}</code> <small>${esc(op.schema.summary)}</small></h3>
<p>${who}${op.access ? `; ${esc(op.access)}` : ''}.${op.schema.description ? ` ${esc(op.schema.description)}` : ''}${
    answers ? ` Answers ${esc(answers)}.` : ''
  }${op.html ? ` HTML: ${esc(op.html)}.` : ''}</p>
${fields('Path', op.schema.params)}${fields('Query', op.schema.querystring)}${fields('Body (JSON)', op.schema.body)}
<p>Errors: ${op.errors.length > 0 ? op.errors.map((c) => `<code>${esc(c)}</code>`).join(', ') : 'none of its own'}; and those of every request (<a href="#errors">below</a>). All ${errorsOf(op).length} codes are in <a href="/openapi.json">/openapi.json</a>.</p>
</section>`;
}

export function renderAdminReference(): string {
  const ops = Object.values(operations) as Operation[];
  const tags = [...new Set(ops.flatMap((o) => o.schema.tags))];
  return tags
    .map(
      (tag) =>
        `<h2>${esc(tag)}</h2>\n${ops
          .filter((o) => o.schema.tags.includes(tag))
          .map(operationHtml)
          .join('\n')}`,
    )
    .join('\n');
}

/** The error catalogue as a table (the same list as the README's, from src/errors.ts). */
export function renderErrorCatalogue(): string {
  const rows = ERROR_CODES.map(
    (code) =>
      `<tr><td><code>${esc(code)}</code></td><td>${ERRORS[code].status}</td><td>${esc(ERRORS[code].meaning)}</td></tr>`,
  ).join('');
  return `<h2 id="errors">Errors</h2>
<p>Every error is <code>{"error":{"code","message","requestId"}}</code>; the status follows from the code. Any request can be refused for its URL or body (<code>BAD_REQUEST</code>, <code>INVALID_URL</code>, <code>VALIDATION_FAILED</code>, <code>MALFORMED_JSON</code>, <code>PAYLOAD_TOO_LARGE</code>, <code>UNSUPPORTED_MEDIA_TYPE</code>) and, unless open, for its credentials (<code>UNAUTHENTICATED</code>, <code>INVALID_TOKEN</code>, <code>EXPIRED_TOKEN</code>, <code>AccessDenied</code> and the AWS codes of signed requests).</p>
<table><thead><tr><th>code</th><th>status</th><th>meaning</th></tr></thead><tbody>${rows}</tbody></table>`;
}
