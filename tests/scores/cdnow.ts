/** Loads the CDNOW calibration summary fixture (provenance in tests/fixtures/scores/README.md). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface CdnowCustomer {
  id: number;
  x: number;
  tx: number;
  T: number;
  zbar: number;
}

export function loadCdnow(): CdnowCustomer[] {
  const path = fileURLToPath(new URL("../fixtures/scores/cdnow_customers_summary_with_transactions.csv", import.meta.url));
  const [header, ...lines] = readFileSync(path, "utf8").trim().split("\n");
  if (header !== "ID,x,t_x,T,zbar") throw new Error(`${path}: unexpected header "${header}".`);
  return lines.map((line) => {
    const [id, x, tx, T, zbar] = line.split(",").map(Number);
    return { id, x, tx, T, zbar };
  });
}
