import type { PriceEntry } from './model';

/**
 * Built-in USD per hour by machine type, used for machine types the env config's `price_table` does not
 * price. Approximate Google Cloud on-demand list prices in us-central1 (2024), machine only: a GPU
 * attached to an N1 machine (e.g. a T4) is billed on top and is not included. `local` (a worker without
 * `TESSEL_INSTANCE_TYPE`, a machine you own) costs nothing to rent. The page marks every price it used
 * with where it came from; set `price_table` for your own rates, region or discounts.
 */
export const DEFAULT_PRICES: Readonly<Record<string, number>> = {
  local: 0,
  'n1-standard-4': 0.19,
  'n1-standard-8': 0.38,
  'n1-standard-16': 0.76,
  'n2-standard-4': 0.194,
  'n2-standard-8': 0.388,
  'n2-standard-16': 0.777,
  'e2-standard-8': 0.268,
  'c2-standard-8': 0.418,
  'g2-standard-4': 0.707, // one NVIDIA L4 included
  'g2-standard-8': 0.854, // one NVIDIA L4 included
  'a2-highgpu-1g': 3.673, // one NVIDIA A100 40GB included
};

/**
 * The price of each machine type seen in the store: the env config's first, then the defaults, else
 * none (its cost is reported as unknown, never as zero).
 */
export function resolvePrices(machines: Iterable<string>, priceTable: Readonly<Record<string, number>> = {}): PriceEntry[] {
  const out: PriceEntry[] = [];
  for (const m of [...new Set(machines)].sort()) {
    if (Object.hasOwn(priceTable, m)) out.push({ instanceType: m, usdPerHour: priceTable[m], source: 'env config' });
    else if (Object.hasOwn(DEFAULT_PRICES, m)) {
      out.push({ instanceType: m, usdPerHour: DEFAULT_PRICES[m], source: 'default', note: m === 'local' ? 'a machine you own' : 'us-central1 on-demand list price, machine only' });
    } else out.push({ instanceType: m, usdPerHour: null, source: 'none' });
  }
  return out;
}
