/**
 * Server-computed amounts, in decimal.js (never floats), rounded half-up to the field's scale:
 * - trade (sales/purchase): gross = qty × unitprice; discount from `disc` ("5", "10%", "10%+5");
 *   tax from the tax code's rate, on top of the net or (taxinclusive) contained in it;
 *   amount = net excluding tax;
 * - stock: amount = qty × unitcost;
 * - payment: amount as sent, taxamt = amount × taxrate / 100;
 * - journal: docamt = Σ dr, and Σ dr must equal Σ cr.
 * docamt = Σ (amount + taxamt); localdocamt = docamt × currencyrate.
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
 * Fill the computed fields of a document's rows and header in place.
 * `taxRates` maps tax codes to their percent rate.
 */
export function computeDocument(
  def: ResourceDef,
  header: Row,
  rows: Row[],
  taxRates: ReadonlyMap<string, string>,
): void {
  let docamt = new Decimal(0);
  const rateOf = (code: unknown) => (typeof code === 'string' ? D(taxRates.get(code)) : new Decimal(0));
  switch (def.compute) {
    case 'trade':
      for (const row of rows) {
        const gross = D(row.qty, '1').mul(D(row.unitprice));
        const net = new Decimal(toFixedScale(gross.sub(discountOf(gross, row.disc as string | null)), 2));
        const rate = row.tax ? rateOf(row.tax) : new Decimal(0);
        let taxamt: Decimal;
        let amount: Decimal;
        if (row.taxinclusive === 1) {
          taxamt = new Decimal(toFixedScale(net.mul(rate).div(rate.add(100)), 2));
          amount = net.sub(taxamt);
        } else {
          taxamt = new Decimal(toFixedScale(net.mul(rate).div(100), 2));
          amount = net;
        }
        row.taxrate = toFixedScale(rate, 2);
        row.taxamt = toFixedScale(taxamt, 2);
        row.amount = toFixedScale(amount, 2);
        docamt = docamt.add(amount).add(taxamt);
      }
      break;
    case 'stock':
      for (const row of rows) {
        const amount = toFixedScale(D(row.qty, '1').mul(D(row.unitcost)), 2);
        row.amount = amount;
        docamt = docamt.add(amount);
      }
      break;
    case 'payment':
      for (const row of rows) {
        const rate = row.tax ? rateOf(row.tax) : new Decimal(0);
        const taxamt = toFixedScale(D(row.amount).mul(rate).div(100), 2);
        row.taxrate = toFixedScale(rate, 2);
        row.taxamt = taxamt;
        docamt = docamt.add(D(row.amount)).add(taxamt);
      }
      break;
    case 'journal': {
      let cr = new Decimal(0);
      for (const row of rows) {
        docamt = docamt.add(D(row.dr));
        cr = cr.add(D(row.cr));
      }
      if (!docamt.eq(cr)) {
        const problems = new Problems();
        problems.add(
          def.detail?.name ?? 'sdsdocdetail',
          `does not balance: debits ${toFixedScale(docamt, 2)} ≠ credits ${toFixedScale(cr, 2)}`,
        );
        problems.throwIfAny(def.name);
      }
      break;
    }
    case 'none':
      return;
  }
  header.docamt = toFixedScale(docamt, 2);
  header.localdocamt = toFixedScale(docamt.mul(D(header.currencyrate, '1')), 2);
}
