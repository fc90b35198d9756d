/**
 * A tiny, hand-written raw dataset whose profile fields are worked out by hand in the tests.
 * as_of_date for these tests: 2025-01-31.
 */
import { RAW_SCHEMA, RAW_TABLES } from "../../macros/raw_contract.ts";
import { dialect } from "../../macros/sql.ts";
import type { Warehouse } from "../../src/warehouse/duckdb.ts";

export const FIXTURE_AS_OF_DATE = "2025-01-31";

export async function createEmptyRawTables(wh: Warehouse): Promise<void> {
  const d = dialect("duckdb");
  await wh.run(`create schema if not exists ${RAW_SCHEMA}`);
  for (const table of RAW_TABLES) {
    const columns = table.columns.map((c) => `${c.name} ${d.typeName(c.type === "numeric" ? "money" : c.type)}`).join(", ");
    await wh.run(`create or replace table ${RAW_SCHEMA}.${table.name} (${columns})`);
  }
}

export async function loadFixture(wh: Warehouse): Promise<void> {
  await createEmptyRawTables(wh);
  await wh.run(`
    insert into raw.stores values
      ('0001', 'Slice Kamppi', 'Helsinki', 'Uusimaa', '2015-01-01 00:00:00'),
      ('2', 'Slice Hervanta', 'Tampere', 'Pirkanmaa', '2016-01-01 00:00:00');

    insert into raw.products values
      ('P1', 'Margherita', 'pizzas', true, 12.00),
      ('P2', 'Kebab Pizza', 'pizzas', true, 12.00),
      ('K1', 'Kids Pepperoni', 'Kids Pizzas', true, 8.00),
      ('D1', 'Garlic Dip', 'dips', false, 2.00),
      ('DR1', 'Cola 0.5', 'drinks', false, 3.00),
      ('F1', 'Delivery', 'delivery_fee', false, 4.00);

    insert into raw.customers values
      -- C1: an older version (superseded) and the current one
      ('C1', 'old@example.com', '040 123 4567', 'Aino', 'Virtanen', 'f', '1990-02-01', '00100', 'Helsinki', 'FI', true, '2023-11-01 10:00:00', null, '2023-11-01 10:00:00', '2023-11-01 10:00:00'),
      ('C1', '  Aino.Virtanen@Example.COM ', '040 123 4567', 'Aino', 'Virtanen', 'f', '1990-02-01', '00100', 'Helsinki', 'Finland', true, '2023-11-01 10:00:00', 'vip10', '2023-11-01 10:00:00', '2024-05-01 10:00:00'),
      ('C2', '  BAD-EMAIL ', '+358 50 765 4321', 'Matti', 'Korhonen', 'm', null, '33720', 'Tampere', 'fi', false, null, null, '2024-03-01 08:00:00', '2024-03-01 08:00:00'),
      ('C3', 'c3@example.fi', null, 'Liisa', 'Nieminen', null, '1950-01-31', null, 'Oulu', 'FI', false, null, null, '2024-12-15 08:00:00', '2024-12-15 08:00:00');

    insert into raw.orders (order_id, customer_id, store_id, channel, fulfilment, ordered_at, total_eur, discount_eur, coupon_code, status, updated_at) values
      -- C1, Friday 2023-12-01 19:00 Helsinki (winter, UTC+2): outside the 365-day window
      ('O1', 'C1', '0001', 'app', 'delivery', '2023-12-01 17:00:00', 30.00, 0, null, 'completed', '2023-12-01 18:00:00'),
      -- C1, Sunday 2024-06-09 13:00 Helsinki (summer, UTC+3); re-sent with a corrected total: the later version wins
      ('O2', 'C1', '2', 'web', 'pickup', '2024-06-09 10:00:00', 18.00, 0, null, 'completed', '2024-06-09 10:05:00'),
      ('O2', 'C1', '2', 'web', 'pickup', '2024-06-09 10:00:00', 20.00, 0, null, 'completed', '2024-06-10 09:00:00'),
      -- C1, Friday 2025-01-10 18:30 Helsinki, with a coupon
      ('O3', 'C1', '0001', 'app', 'delivery', '2025-01-10 16:30:00', 26.00, 4.00, 'sunday20', 'completed', '2025-01-10 17:00:00'),
      -- C1, cancelled: no revenue
      ('O4', 'C1', '0001', 'app', 'delivery', '2025-01-20 16:00:00', 50.00, 0, null, 'cancelled', '2025-01-20 16:10:00'),
      -- C2: completed, then refunded (later version wins) -> no completed order
      ('O9', 'C2', '0001', 'store', 'dine_in', '2024-11-01 11:00:00', 15.00, 0, null, 'completed', '2024-11-01 11:00:00'),
      ('O9', 'C2', '0001', 'store', 'dine_in', '2024-11-01 11:00:00', 15.00, 0, null, 'refunded', '2024-11-02 09:00:00'),
      -- dirty rows
      ('O5', 'C1', '0001', 'app', 'delivery', '2024-10-01 16:00:00', -10.00, 0, null, 'completed', '2024-10-01 16:00:00'),
      ('O6', 'C1', '0001', 'app', 'delivery', '2025-02-05 16:00:00', 10.00, 0, null, 'completed', '2025-02-05 16:00:00'),
      ('O7', 'C1', '9999', 'app', 'delivery', '2024-10-02 16:00:00', 10.00, 0, null, 'completed', '2024-10-02 16:00:00'),
      ('O10', 'C404', '0001', 'app', 'delivery', '2024-10-03 16:00:00', 10.00, 0, null, 'completed', '2024-10-03 16:00:00'),
      -- anonymous order: kept in staging, belongs to no profile
      ('O8', null, '0001', 'store', 'dine_in', '2024-12-24 12:00:00', 12.00, 0, null, 'completed', '2024-12-24 12:00:00');

    insert into raw.order_lines values
      ('O1', 1, 'P1', 2, 12.00, 24.00), ('O1', 2, 'D1', 1, 2.00, 2.00), ('O1', 3, 'F1', 1, 4.00, 4.00),
      ('O2', 1, 'P2', 1, 12.00, 12.00), ('O2', 2, 'K1', 1, 8.00, 8.00),
      ('O2', 2, 'K1', 1, 8.00, 8.00),
      ('O3', 1, 'P1', 2, 12.00, 24.00), ('O3', 2, 'DR1', 1, 3.00, 3.00), ('O3', 3, 'F1', 1, 3.00, 3.00),
      ('O4', 1, 'P1', 4, 12.00, 48.00),
      ('O9', 1, 'P1', 1, 12.00, 12.00),
      ('O5', 1, 'P1', 1, 12.00, 12.00),
      ('O8', 1, 'P2', 1, 12.00, 12.00),
      ('O404', 1, 'P1', 1, 12.00, 12.00),
      ('O1', 4, 'NOPE', 1, 1.00, 1.00);

    insert into raw.consent_events values
      ('C1', 'email_marketing', true, 'app', '2024-01-01 10:00:00'),
      ('C1', 'sms_marketing', true, 'app', '2024-01-01 10:00:00'),
      ('C1', 'sms_marketing', false, 'web', '2024-12-01 10:00:00'),
      ('C1', 'sms_marketing', false, 'web', '2024-12-01 10:00:00'),
      ('C1', 'partner_meta', true, 'app', '2024-01-01 10:00:00'),
      ('C1', 'profiling', true, 'app', '2024-01-01 10:00:00'),
      ('C2', 'email_marketing', true, 'store', '2024-03-01 08:00:00'),
      ('C2', 'sms_marketing', true, 'store', '2024-03-01 08:00:00'),
      ('C2', 'push_marketing', false, 'store', '2025-03-01 08:00:00');

    insert into raw.loyalty_events values
      ('C1', '2023-12-01 17:00:00', 'slice_earned', 2),
      ('C1', '2024-06-09 10:00:00', 'slice_earned', 2),
      ('C1', '2024-08-01 10:00:00', 'slice_earned', 2),
      ('C1', '2024-09-01 10:00:00', 'slice_earned', 2),
      ('C1', '2024-10-01 10:00:00', 'slice_earned', 2),
      ('C1', '2024-10-01 10:00:00', 'card_completed', 0),
      ('C1', '2025-01-10 16:30:00', 'slice_earned', 1);
  `);
}
