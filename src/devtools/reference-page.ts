/** A readable API reference: the OpenAPI document rendered as plain HTML on the server (no CDN, no scripts). */
import { detailFields, type FieldDef, RESOURCES } from '../accounting/registry.js';
import { fieldSchema } from './openapi.js';

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function typeOf(f: FieldDef): string {
  if (f.type === 'decimal') return `decimal(${f.scale ?? 2}) string`;
  if (f.type === 'string') return `string ≤ ${f.maxLength ?? 200}`;
  if (f.type === 'date') return 'date YYYY-MM-DD';
  return f.type;
}

function fieldTable(fields: readonly FieldDef[]): string {
  const rows = fields
    .map((f) => {
      const s = fieldSchema(f);
      const flags = [f.required ? 'required' : '', f.readOnly ? 'read-only' : ''].filter(Boolean).join(', ');
      return `<tr><td><code>${esc(f.name)}</code></td><td>${esc(typeOf(f))}</td><td>${esc(flags)}</td><td>${esc(
        s.description ?? '',
      )}${f.default !== undefined && f.default !== null && !f.readOnly ? ` (default ${esc(JSON.stringify(f.default))})` : ''}</td></tr>`;
    })
    .join('\n');
  return `<table><thead><tr><th>field</th><th>type</th><th></th><th>notes</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function renderReferencePage(options: { version: string; region: string; service: string }): string {
  const toc = RESOURCES.map((r) => `<a href="#${r.name}">${esc(r.name)}</a>`).join(' · ');
  const sections = RESOURCES.map((r) => {
    const key = r.keyField;
    return `<section id="${r.name}">
<h2>${esc(r.title)} <small><code>/${r.name}/</code> · ${r.kind}</small></h2>
<ul>
<li><code>GET /${r.name}/?field=value&amp;offset=0&amp;limit=50&amp;lastmodified=&lt;unix&gt;</code> — list, master fields only (<code>${esc(r.permissions.read)}</code>)</li>
<li><code>GET /${r.name}/*?${r.indexed.map((f) => `${f}=…`).join('&amp;')}</code> — one record with its detail, by indexed fields</li>
<li><code>GET /${r.name}/{${key}}</code> — one record with its detail</li>
<li><code>POST /${r.name}</code>, <code>PUT /${r.name}/{${key}}</code> (with <code>updatecount</code> + 1), <code>DELETE /${r.name}/{${key}}</code> (<code>${esc(r.permissions.write)}</code>)</li>
</ul>
${fieldTable(r.fields)}
${r.detail ? `<h3><code>${r.detail.name}</code> rows</h3>${fieldTable(detailFields(r))}` : ''}
<details><summary>sample body</summary><pre>${esc(JSON.stringify(r.sample, null, 2))}</pre></details>
</section>`;
  }).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>latchkey data API reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f7f7f7;padding:.5rem;overflow:auto}
section{border-top:2px solid #eee;margin-top:2rem}small{color:#666;font-weight:normal}
</style></head><body>
<h1>latchkey accounting data API <small>${esc(options.version)}</small></h1>
<p>SQL Account compatible. Sign every request with AWS Signature Version 4 (region <code>${esc(options.region)}</code>,
service <code>${esc(options.service)}</code>) or send <code>Authorization: Bearer &lt;token&gt;</code> from <code>POST /iam/login</code>.
Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Postman: <code>GET /iam/postman-collection</code>.</p>
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
