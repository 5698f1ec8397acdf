/**
 * Server-computed amounts, in decimal.js (never floats), rounded half-up to the field's scale:
 * - trade (sales/purchase): gross = qty × unitprice; discount from `disc` ("5", "10%", "10%+5");
 *   tax from the tax code's rate, on top of the net or (taxinclusive) contained in it;
 *   amount = net excluding tax;
 * - stock: amount = qty × unitprice (the unit cost);
 * - lines (account lines of vouchers, receipts, AR/AP notes): amount as sent, tax as for trade;
 * - journal: docamt = Σ dr, and Σ dr must equal Σ cr;
 * - entered (payments, deposits, refunds, contras): docamt as sent (knock-offs in knockoff.ts).
 * docamt = Σ (amount + taxamt); local amounts = amount × currencyrate.
 */
import type { ResourceDef } from './registry.js';
import { Decimal, Problems, type Row, toFixedScale } from './values.js';

const D = (v: unknown, fallback = '0'): Decimal =>
  new Decimal(v === null || v === undefined || v === '' ? fallback : String(v));

/** The discount amount of `disc` applied to `gross`: percents and amounts in order. */
export function discountOf(gross: Decimal, disc: string | null): Decimal {
  if (!disc || disc.trim() === '') return new Decimal(0);
  let remaining = gross;
  for (const part of disc.split('+').map((p) => p.trim())) {
    const step = part.endsWith('%') ? remaining.mul(D(part.slice(0, -1))).div(100) : D(part);
    remaining = remaining.sub(step);
  }
  return gross.sub(remaining);
}

/**
 * Fill the computed fields of a document's rows (its first detail array, the lines) and header in
 * place. `taxRates` maps tax codes to their percent rate.
 */
export function computeDocument(
  def: ResourceDef,
  header: Row,
  rows: Row[],
  taxRates: ReadonlyMap<string, string>,
): void {
  if (def.kind !== 'document') return;
  let docamt = new Decimal(0);
  const rate = D(header.currencyrate, '1');
  const local = (v: Decimal) => toFixedScale(v.mul(rate), 2);
  const rateOf = (code: unknown) =>
    typeof code === 'string' && code !== '' ? D(taxRates.get(code)) : new Decimal(0);
  /** Tax on top of `net`, or (taxinclusive) contained in it. */
  const taxed = (row: Row, net: Decimal) => {
    const percent = rateOf(row.tax);
    const taxamt =
      row.taxinclusive === 1
        ? new Decimal(toFixedScale(net.mul(percent).div(percent.add(100)), 2))
        : new Decimal(toFixedScale(net.mul(percent).div(100), 2));
    const amount = row.taxinclusive === 1 ? net.sub(taxamt) : net;
    row.taxrate = toFixedScale(percent, 2);
    row.taxamt = toFixedScale(taxamt, 2);
    row.amount = toFixedScale(amount, 2);
    row.localamount = local(amount);
    row.localtaxamt = local(taxamt);
    if ('amountwithtax' in row) row.amountwithtax = toFixedScale(amount.add(taxamt), 2);
    docamt = docamt.add(amount).add(taxamt);
  };
  switch (def.compute) {
    case 'trade':
      for (const row of rows) {
        const gross = D(row.qty, '1').mul(D(row.unitprice));
        taxed(row, new Decimal(toFixedScale(gross.sub(discountOf(gross, row.disc as string | null)), 2)));
      }
      break;
    case 'stock':
      for (const row of rows) {
        const amount = toFixedScale(D(row.qty, '1').mul(D(row.unitprice)), 2);
        row.amount = amount;
        docamt = docamt.add(amount);
      }
      break;
    case 'lines':
      for (const row of rows) taxed(row, D(row.amount));
      break;
    case 'journal': {
      let cr = new Decimal(0);
      for (const row of rows) {
        docamt = docamt.add(D(row.dr));
        cr = cr.add(D(row.cr));
        row.localdr = local(D(row.dr));
        row.localcr = local(D(row.cr));
      }
      if (!docamt.eq(cr)) {
        const problems = new Problems();
        problems.add(
          def.details[0]?.name ?? 'sdsdocdetail',
          `does not balance: debits ${toFixedScale(docamt, 2)} ≠ credits ${toFixedScale(cr, 2)}`,
        );
        problems.throwIfAny(def.name);
      }
      break;
    }
    case 'entered':
      docamt = D(header.docamt);
      break;
    case 'none':
      return;
  }
  header.docamt = toFixedScale(docamt, 2);
  header.localdocamt = local(docamt);
}
