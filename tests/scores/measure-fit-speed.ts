/**
 * Measures how long the fits take on a million customers (not a test: timing does not belong in unit tests).
 * Run: npx tsx tests/scores/measure-fit-speed.ts [customers]
 *
 * Customers are simulated from BG/NBD with purchase times on a one-day grid, as the warehouse summary has them,
 * then grouped on identical (x, t_x, T); Gamma-Gamma spend is grouped on (x, repeat spend in cents).
 */
import { fitBgNbd } from "../../src/scores/bgnbd.ts";
import { fitGammaGamma, type SpendGroup } from "../../src/scores/gammagamma.ts";
import { simulateBgNbd, simulateGammaGamma } from "../../src/scores/simulate.ts";
import { groupSummaryRows } from "../../src/scores/summary.ts";

const customers = Number(process.argv[2] ?? 1_000_000);
const seconds = (start: number) => ((performance.now() - start) / 1000).toFixed(2);

let start = performance.now();
const simulated = simulateBgNbd({ r: 0.8, alpha: 6, a: 0.6, b: 3 }, { customers, seed: 7, minAge: 1, maxAge: 156, timeGrid: 1 / 7 });
console.log(`simulated ${customers} customers in ${seconds(start)} s`);

start = performance.now();
const groups = groupSummaryRows(simulated);
console.log(`grouped into ${groups.length} (x, t_x, T) rows in ${seconds(start)} s`);

start = performance.now();
const bgnbd = fitBgNbd(groups);
console.log(`BG/NBD fit in ${seconds(start)} s: ${JSON.stringify(bgnbd)}`);

const repeaters = simulated.filter((c) => c.frequency > 0).map((c) => c.frequency);
const spend = simulateGammaGamma({ p: 5, q: 3, gamma: 20 }, repeaters, 11);
const spendGroups = new Map<string, SpendGroup>();
repeaters.forEach((x, i) => {
  const cents = Math.round(spend[i] * x * 100);
  const key = `${x}|${cents}`;
  const group = spendGroups.get(key);
  if (group) group.customers += 1;
  else spendGroups.set(key, { frequency: x, monetaryValue: cents / 100 / x, customers: 1 });
});
start = performance.now();
const gammaGamma = fitGammaGamma([...spendGroups.values()]);
console.log(`Gamma-Gamma fit on ${repeaters.length} repeat customers (${spendGroups.size} groups) in ${seconds(start)} s: ${JSON.stringify(gammaGamma)}`);
