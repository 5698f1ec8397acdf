/**
 * /docs, a readable API reference rendered as plain HTML on the server (no CDN, no scripts) from
 * the objects /openapi.json is made of: the contract's admin operations and the data API's
 * schemas (src/accounting/schemas.ts, the ones the routes use), so the two never disagree.
 */
import type { TObject, TSchema } from '@sinclair/typebox';
import { DATA_SCHEMAS, exampleOf, type ResourceSchemas } from '../accounting/schemas.js';
import { errorsOf, type Operation, operations } from '../contract/operations.js';
import { ERROR_CODES, ERRORS } from '../errors.js';

type Json = Record<string, unknown>;

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const propertiesOf = (schema: TSchema | undefined): Record<string, Json> =>
  ((schema as Json | undefined)?.properties ?? {}) as Record<string, Json>;

/** A field's type in words, from its schema: `date YYYY-MM-DD or null`, `"active" | "disabled"`, `string[]`… */
function typeOf(schema: Json, ranges = false): string {
  const of = (s: Json) => typeOf(s, ranges);
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Json[]).map(of).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.type === 'array') return `${of((schema.items ?? {}) as Json)}[]`;
  if (schema.type === 'null') return 'null';
  const types = (Array.isArray(schema.type) ? schema.type : [schema.type]) as string[];
  const main = types.find((t) => t !== 'null') ?? 'any';
  const example = (schema.examples as unknown[] | undefined)?.[0];
  let text: string = main;
  if (schema.format === 'date') text = 'date YYYY-MM-DD';
  // A decimal is a string with a pattern and an example (other patterns, such as a name's, have none).
  else if (main === 'string' && schema.pattern && example !== undefined)
    text = `decimal string, e.g. "${String(example)}"`;
  else if (main === 'string' && typeof schema.maxLength === 'number') text = `string ≤ ${schema.maxLength}`;
  // An input's integer bounds (`0..1000000`); the data API's tables leave them out.
  else if (ranges && main === 'integer' && (schema.minimum !== undefined || schema.maximum !== undefined))
    text = `integer ${schema.minimum ?? ''}..${schema.maximum ?? ''}`;
  return types.includes('null') ? `${text} or null` : text;
}

/** A row per field of `output`; `input` (the create body's object) gives required and defaults. */
function fieldTable(output: TSchema, input: TSchema | undefined): string {
  const inputs = propertiesOf(input);
  const required = new Set(((input as Json | undefined)?.required ?? []) as string[]);
  const rows = Object.entries(propertiesOf(output))
    .filter(([, p]) => p.type !== 'array')
    .map(([name, p]) => {
      const flags = [required.has(name) ? 'required' : '', p.readOnly ? 'read-only' : '']
        .filter(Boolean)
        .join(', ');
      const fallback = inputs[name]?.default;
      return `<tr><td><code>${esc(name)}</code></td><td>${esc(typeOf(p))}</td><td>${esc(flags)}</td><td>${esc(
        p.description ?? '',
      )}${fallback !== undefined ? ` (default ${esc(JSON.stringify(fallback))})` : ''}</td></tr>`;
    })
    .join('\n');
  return `<table><thead><tr><th>field</th><th>type</th><th></th><th>notes</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const filterNames = (query: TObject, skip: readonly string[]) =>
  Object.keys(query.properties).filter((f) => !skip.includes(f));

function section(s: ResourceSchemas): string {
  const r = s.def;
  const key = r.keyField;
  const details = r.details
    .map((d) => {
      const rows = propertiesOf(s.record)[d.name]?.items as TSchema | undefined;
      const input = propertiesOf(s.createBody)[d.name]?.items as TSchema | undefined;
      return rows ? `<h3><code>${d.name}</code> rows</h3>${fieldTable(rows, input)}` : '';
    })
    .join('\n');
  const listFilters = filterNames(s.listQuery, ['offset', 'limit', 'lastmodified']);
  const findFilters = filterNames(s.findQuery, ['offset', 'limit', 'lastmodified']);
  return `<section id="${r.name}">
<h2>${esc(r.title)} <small><code>/${r.name}/</code> · ${r.kind}${r.table ? ` · another path for <code>/${r.table}/</code>` : ''}</small></h2>
<ul>
<li><code>GET /${r.name}/?field=value&amp;offset=0&amp;limit=50&amp;lastmodified=&lt;unix&gt;</code> — list, master fields only (<code>${esc(r.permissions.read)}</code>); filters: ${listFilters.map((f) => `<code>${esc(f)}</code>`).join(', ')}</li>
<li><code>GET /${r.name}/*?${findFilters.map((f) => `${f}=…`).join('&amp;')}</code> — one record with its detail, by indexed fields</li>
<li><code>GET /${r.name}/{${key}}</code> — one record with its detail</li>
<li><code>POST /${r.name}</code>, <code>PUT /${r.name}/{${key}}</code> (${r.kind === 'document' ? 'with <code>updatecount</code> + 1' : '<code>updatecount</code> + 1 optional'}), <code>DELETE /${r.name}/{${key}}</code> (<code>${esc(r.permissions.write)}</code>)</li>
</ul>
${fieldTable(s.record, s.createBody)}
${details}
<details><summary>sample bodies</summary><p>POST</p><pre>${esc(JSON.stringify(exampleOf(s.createBody), null, 2))}</pre>
<p>PUT</p><pre>${esc(JSON.stringify(exampleOf(s.updateBody), null, 2))}</pre></details>
</section>`;
}

// ---- the admin API, from the contract's operations

/** An admin operation's params, query or body: a row per field, with its type and whether it is required. */
function fields(title: string, schema: TSchema | undefined): string {
  const entries = Object.entries(propertiesOf(schema));
  if (entries.length === 0) return '';
  const required = new Set(((schema as Json | undefined)?.required ?? []) as string[]);
  const rows = entries
    .map(
      ([name, s]) =>
        `<tr><td><code>${esc(name)}</code></td><td>${esc(typeOf(s, true))}</td><td>${
          required.has(name) ? 'required' : ''
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

function renderAdminReference(): string {
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
function renderErrorCatalogue(): string {
  const rows = ERROR_CODES.map(
    (code) =>
      `<tr><td><code>${esc(code)}</code></td><td>${ERRORS[code].status}</td><td>${esc(ERRORS[code].meaning)}</td></tr>`,
  ).join('');
  return `<h2 id="errors">Errors</h2>
<p>Every error is <code>{"error":{"code","message","requestId"}}</code>; the status follows from the code. Any request can be refused for its URL or body (<code>BAD_REQUEST</code>, <code>INVALID_URL</code>, <code>VALIDATION_FAILED</code>, <code>MALFORMED_JSON</code>, <code>PAYLOAD_TOO_LARGE</code>, <code>UNSUPPORTED_MEDIA_TYPE</code>) and, unless open, for its credentials (<code>UNAUTHENTICATED</code>, <code>INVALID_TOKEN</code>, <code>EXPIRED_TOKEN</code>, <code>AccessDenied</code> and the AWS codes of signed requests).</p>
<table><thead><tr><th>code</th><th>status</th><th>meaning</th></tr></thead><tbody>${rows}</tbody></table>`;
}

// ---- the page

export function renderReferencePage(options: { version: string; region: string; service: string }): string {
  const toc = DATA_SCHEMAS.map((s) => `<a href="#${s.def.name}">${esc(s.def.name)}</a>`).join(' · ');
  const sections = DATA_SCHEMAS.map(section).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>latchkey API reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f7f7f7;padding:.5rem;overflow:auto}
section{border-top:2px solid #eee;margin-top:2rem}small{color:#666;font-weight:normal}
</style></head><body>
<h1>latchkey API <small>${esc(options.version)}</small></h1>
<p>The admin API (<a href="#admin">/iam</a>) and the accounting data API (<a href="#data">SQL Account compatible</a>). Sign every request with AWS Signature Version 4 (region <code>${esc(options.region)}</code>,
service <code>${esc(options.service)}</code>) or send <code>Authorization: Bearer &lt;token&gt;</code> from <code>POST /iam/login</code>.
Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Postman: <code>GET /iam/postman-collection</code>.</p>
<h1 id="admin">Admin API</h1>
${renderAdminReference()}
${renderErrorCatalogue()}
<h1 id="data">Data API (SQL Account compatible)</h1>
<h2>Rules</h2>
<ul>
<li>Lists answer <code>{"pagination":{"count","offset","limit"},"data":[…]}</code>; <code>count</code> is the number of records in this response; <code>limit</code> is at most 50 (larger values are capped).</li>
<li>Money and quantities are decimal strings with a fixed number of places; amounts, taxes, <code>docamt</code> and <code>localdocamt</code> are computed by the server. Dates are <code>YYYY-MM-DD</code>.</li>
<li><code>PUT</code> must carry <code>updatecount</code> = stored + 1, else 409 <code>RECORD_CHANGED</code> "Record has been changed by other users."</li>
<li>Detail rows in <code>PUT</code>: an existing <code>dtlkey</code> updates the row; no <code>dtlkey</code>, <code>-1</code> or an unknown one inserts; rows left out are deleted; no array leaves the detail alone.</li>
<li>Omit <code>docno</code> (or send <code>&lt;&lt;New&gt;&gt;</code>) to take the next number of the document's series.</li>
</ul>
<p>${toc}</p>
${sections}
</body></html>`;
}
