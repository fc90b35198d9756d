/**
 * Identity tables shaped like the build's (intermediate.int_identity_*), and audience members, for the
 * privacy tests that need a resolved person without a build.
 */
import type { Warehouse } from "../../src/warehouse/duckdb.ts";

/** Two persons (p1: accounts C1 and C2 by a shared card, an app record, a guest order's phone; p2: C3) and a quarantined shared e-mail. */
export async function identityTables(wh: Warehouse): Promise<void> {
  await wh.run(`
    create schema intermediate; create schema activation;
    create table intermediate.int_identity_persons (node_key varchar, node_kind varchar, customer_id varchar, person_id varchar);
    insert into intermediate.int_identity_persons values
      ('account:C1', 'account', 'C1', 'p1'), ('account:C2', 'account', 'C2', 'p1'), ('app:A1', 'record', null, 'p1'),
      ('order:O9', 'guest_order', null, 'p1'), ('account:C3', 'account', 'C3', 'p2');
    create table intermediate.int_identity_identifiers (node_key varchar, identifier_kind varchar, identifier_value varchar, identifier_key varchar);
    insert into intermediate.int_identity_identifiers values
      ('account:C1', 'email', 'aino@x.fi', 'email:aino@x.fi'), ('account:C1', 'loyalty_card', 'CARD-1', 'loyalty_card:CARD-1'),
      ('account:C2', 'loyalty_card', 'CARD-1', 'loyalty_card:CARD-1'), ('account:C2', 'phone', '358501112233', 'phone:358501112233'),
      ('order:O9', 'phone', '358501112233', 'phone:358501112233'), ('app:A1', 'device', 'DEV-1', 'device:DEV-1'),
      ('account:C1', 'email', 'family@x.fi', 'email:family@x.fi'), ('account:C3', 'email', 'family@x.fi', 'email:family@x.fi'),
      ('account:C3', 'email', 'matti@x.fi', 'email:matti@x.fi');
    create table intermediate.int_identity_identifier_checks (identifier_key varchar, reject_reason varchar);
    insert into intermediate.int_identity_identifier_checks values ('email:family@x.fi', 'shared_by_different_people'), ('email:aino@x.fi', null);
    create table activation.audience_members (customer_id varchar, destination varchar, is_holdout boolean);
    insert into activation.audience_members values ('C2', 'meta', false), ('C3', 'media_x', false), ('C3', 'meta', true);
  `);
}
