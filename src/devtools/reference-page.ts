/**
 * A readable API reference: the data API's schemas (src/accounting/schemas.ts, the ones OpenAPI
 * and the routes use) rendered as plain HTML on the server (no CDN, no scripts).
 */
import type { TObject, TSchema } from '@sinclair/typebox';
import { DATA_SCHEMAS, exampleOf, type ResourceSchemas } from '../accounting/schemas.js';
import { renderAdminReference, renderErrorCatalogue } from './reference-admin.js';

type Json = Record<string, unknown>;

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const propertiesOf = (schema: TSchema | undefined): Record<string, Json> =>
  ((schema as Json | undefined)?.properties ?? {}) as Record<string, Json>;

/** The type as the answer carries it, from the output schema. */
function typeOf(schema: Json): string {
  const types = (Array.isArray(schema.type) ? schema.type : [schema.type]) as string[];
  const main = types.find((t) => t !== 'null') ?? 'any';
  const example = (schema.examples as unknown[] | undefined)?.[0];
  let text: string = main;
  if (schema.format === 'date') text = 'date YYYY-MM-DD';
  else if (main === 'string' && schema.pattern) text = `decimal string, e.g. "${String(example)}"`;
  else if (main === 'string' && typeof schema.maxLength === 'number') text = `string ≤ ${schema.maxLength}`;
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
  const detail = r.detail ? (propertiesOf(s.record)[r.detail.name]?.items as TSchema) : undefined;
  const detailInput = r.detail ? (propertiesOf(s.createBody)[r.detail.name]?.items as TSchema) : undefined;
  const listFilters = filterNames(s.listQuery, ['offset', 'limit', 'lastmodified']);
  const findFilters = filterNames(s.findQuery, ['offset', 'limit', 'lastmodified']);
  return `<section id="${r.name}">
<h2>${esc(r.title)} <small><code>/${r.name}/</code> · ${r.kind}</small></h2>
<ul>
<li><code>GET /${r.name}/?field=value&amp;offset=0&amp;limit=50&amp;lastmodified=&lt;unix&gt;</code> — list, master fields only (<code>${esc(r.permissions.read)}</code>); filters: ${listFilters.map((f) => `<code>${esc(f)}</code>`).join(', ')}</li>
<li><code>GET /${r.name}/*?${findFilters.map((f) => `${f}=…`).join('&amp;')}</code> — one record with its detail, by indexed fields</li>
<li><code>GET /${r.name}/{${key}}</code> — one record with its detail</li>
<li><code>POST /${r.name}</code>, <code>PUT /${r.name}/{${key}}</code> (with <code>updatecount</code> + 1), <code>DELETE /${r.name}/{${key}}</code> (<code>${esc(r.permissions.write)}</code>)</li>
</ul>
${fieldTable(s.record, s.createBody)}
${r.detail && detail ? `<h3><code>${r.detail.name}</code> rows</h3>${fieldTable(detail, detailInput)}` : ''}
<details><summary>sample bodies</summary><p>POST</p><pre>${esc(JSON.stringify(exampleOf(s.createBody), null, 2))}</pre>
<p>PUT</p><pre>${esc(JSON.stringify(exampleOf(s.updateBody), null, 2))}</pre></details>
</section>`;
}

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
