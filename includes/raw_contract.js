"use strict";
/**
 * The raw data contract: every table that lands in the `raw` dataset, its columns, types and meaning.
 *
 * This one object feeds the Dataform declarations (definitions/sources), the loader's row validation,
 * the DuckDB DDL used by the generator and loader, and the BigQuery catalog used for offline validation,
 * so a column is defined in exactly one place. docs/raw-contract.md explains the rules around it.
 *
 * Compiled into includes/raw_contract.js (global `raw_contract` inside Dataform).
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.RAW_TABLES = exports.HOUSEHOLD_TYPES = exports.GENDERS = exports.AGE_BANDS = exports.IDENTITY_SOURCE_SYSTEMS = exports.PRIVACY_IDENTIFIER_TYPES = exports.LOYALTY_EVENT_KINDS = exports.CONSENT_PURPOSES = exports.ORDER_STATUSES = exports.FULFILMENTS = exports.CHANNELS = exports.RAW_SCHEMA = void 0;
exports.rawTable = rawTable;
exports.RAW_SCHEMA = "raw";
exports.CHANNELS = ["app", "web", "store", "delivery_partner"];
exports.FULFILMENTS = ["delivery", "pickup", "dine_in"];
exports.ORDER_STATUSES = ["completed", "cancelled", "refunded"];
exports.CONSENT_PURPOSES = [
    "email_marketing",
    "sms_marketing",
    "push_marketing",
    "profiling",
    "partner_meta",
    "partner_media",
];
exports.LOYALTY_EVENT_KINDS = ["slice_earned", "card_completed", "reward_redeemed"];
/** What a suppression names (macros/privacy.ts SUPPRESSION_TYPES, kept equal by a test). */
exports.PRIVACY_IDENTIFIER_TYPES = ["customer_id", "email", "phone", "loyalty_card", "device_id", "source_record", "person_id"];
/** Systems that know a person under their own id; loyalty and webshop ids are customer ids in `customers`. */
exports.IDENTITY_SOURCE_SYSTEMS = ["loyalty", "webshop", "app", "delivery_partner", "pos"];
/** customer_profile.age_band values (int_customer_classification); the reference population uses the same bands. */
exports.AGE_BANDS = ["under_25", "25_34", "35_44", "45_54", "55_64", "65_plus"];
exports.GENDERS = ["m", "f"];
/** customer_profile.household_type values a population can be split by. */
exports.HOUSEHOLD_TYPES = ["family", "couple", "single"];
function col(name, type, nullable, description, values) {
    return values ? { name, type, nullable, description, values } : { name, type, nullable, description };
}
exports.RAW_TABLES = [
    {
        name: "customers",
        description: "Customer accounts from the loyalty and ordering systems. A customer may be re-sent with a later updated_at; the latest version wins.",
        columns: [
            col("customer_id", "string", false, "Source system id of the customer account."),
            col("email", "string", true, "E-mail address as typed by the customer (may be malformed; normalized in staging)."),
            col("phone", "string", true, "Phone number as typed (national or international format; normalized to E.164 digits in staging)."),
            col("first_name", "string", true, "First name."),
            col("last_name", "string", true, "Last name."),
            col("gender", "string", true, "Self-declared gender: 'm', 'f' or null when not given."),
            col("birth_date", "date", true, "Date of birth."),
            col("postal_code", "string", true, "Postal code of the home address."),
            col("city", "string", true, "City of the home address."),
            col("country", "string", true, "Country of the home address, ISO 3166-1 alpha-2 or a country name."),
            col("loyalty_member", "bool", false, "True when the customer has joined the loyalty club."),
            col("loyalty_joined_at", "timestamp", true, "When the customer joined the loyalty club (UTC)."),
            col("coupon_code", "string", true, "Personal coupon code attached to the account, if any."),
            col("created_at", "timestamp", false, "When the account was created (UTC)."),
            col("updated_at", "timestamp", false, "When this version of the row was written at the source (UTC)."),
        ],
    },
    {
        name: "orders",
        description: "Order headers. The same order may arrive again with a later updated_at (status change, correction); the latest version wins.",
        columns: [
            col("order_id", "string", false, "Source system id of the order."),
            col("customer_id", "string", true, "Customer account that placed the order; null for anonymous orders."),
            col("store_id", "string", true, "Four-digit store code, such as 0339."),
            col("channel", "string", true, "Where the order was placed.", exports.CHANNELS),
            col("fulfilment", "string", true, "How the order reached the customer.", exports.FULFILMENTS),
            col("ordered_at", "timestamp", true, "When the order was placed (UTC)."),
            col("total_eur", "numeric", true, "Amount paid for the order after discounts, in euros, VAT included."),
            col("discount_eur", "numeric", true, "Discount granted on the order, in euros."),
            col("coupon_code", "string", true, "Coupon code redeemed with the order, if any."),
            col("status", "string", true, "Order status.", exports.ORDER_STATUSES),
            col("updated_at", "timestamp", false, "When this version of the order was written at the source (UTC)."),
            { ...col("guest_email", "string", true, "E-mail given at a guest checkout (web or app without an account); null otherwise. Optional in files."), optional: true },
            { ...col("guest_phone", "string", true, "Phone given for a guest or delivery-partner order (the courier's contact); null otherwise. Optional in files."), optional: true },
        ],
    },
    {
        name: "order_lines",
        description: "Order lines: one row per product line of an order.",
        columns: [
            col("order_id", "string", false, "Order the line belongs to."),
            col("line_number", "int64", false, "Position of the line in the order, from 1."),
            col("product_id", "string", true, "Product sold on the line."),
            col("quantity", "int64", true, "Units sold."),
            col("unit_price_eur", "numeric", true, "Price of one unit, in euros."),
            col("line_total_eur", "numeric", true, "Amount of the line, in euros (quantity × unit price, before order-level discounts)."),
        ],
    },
    {
        name: "products",
        description: "The menu: every product that can appear on an order line.",
        columns: [
            col("product_id", "string", false, "Product id."),
            col("name", "string", false, "Product name as shown on the menu."),
            col("category", "string", false, "Menu category: pizzas, kids_pizzas, dips, drinks, desserts, sides, salads, delivery_fee."),
            col("is_pizza", "bool", false, "True for pizzas of any size (used for basket-size rules)."),
            col("list_price_eur", "numeric", true, "Current list price, in euros."),
        ],
    },
    {
        name: "stores",
        description: "Restaurants of the chain.",
        columns: [
            col("store_id", "string", false, "Four-digit store code, such as 0339."),
            col("name", "string", false, "Store name."),
            col("city", "string", true, "City of the store."),
            col("region", "string", true, "Region of the store."),
            col("opened_at", "timestamp", true, "When the store opened (UTC)."),
        ],
    },
    {
        name: "consent_events",
        description: "Every change of a customer's marketing permission. The latest event per customer and purpose is the current state; no event means 'not set'.",
        columns: [
            col("customer_id", "string", false, "Customer the permission belongs to."),
            col("purpose", "string", false, "What the permission covers.", exports.CONSENT_PURPOSES),
            col("granted", "bool", false, "True when granted, false when denied or withdrawn."),
            col("source", "string", true, "Where the change was made (app, web, store, support, import)."),
            col("occurred_at", "timestamp", false, "When the change was made (UTC)."),
        ],
    },
    {
        name: "loyalty_events",
        description: "Loyalty card events: a slice earned per qualifying pizza, a completed card, a redeemed reward.",
        columns: [
            col("customer_id", "string", false, "Customer the event belongs to."),
            col("occurred_at", "timestamp", false, "When the event happened (UTC)."),
            col("kind", "string", false, "Event kind.", exports.LOYALTY_EVENT_KINDS),
            col("slices", "int64", false, "Slices added (positive) or used (negative) by the event."),
        ],
    },
    {
        name: "identities",
        description: "Every record under which a source system knows a person: loyalty and webshop accounts, app installs, delivery-partner customers, loyalty cards shown at the till. Identity resolution stitches them (with customers and guest orders) into persons. A record may be re-sent with a later last_seen_at; the latest wins.",
        columns: [
            col("source_system", "string", false, "System that holds the record.", exports.IDENTITY_SOURCE_SYSTEMS),
            col("source_id", "string", false, "Id of the record in its system; for loyalty and webshop it is the customer_id in customers."),
            col("email", "string", true, "E-mail known to that system, as typed."),
            col("phone", "string", true, "Phone known to that system, as typed."),
            col("loyalty_card_id", "string", true, "Loyalty card number linked to the record."),
            col("device_id", "string", true, "App installation or browser id."),
            col("first_seen_at", "timestamp", false, "When the system first saw the record (UTC)."),
            col("last_seen_at", "timestamp", false, "When the system last saw the record (UTC)."),
        ],
    },
    {
        name: "privacy_suppressions",
        description: "The suppression list: persons who asked to be forgotten, as hashed identifiers only. Staging drops every raw row carrying one of them and keeps their orders only anonymized (docs/privacy.md), so reloading old files does not bring the person back. Written by slice privacy forget and functions/privacy, or loaded like any raw table.",
        columns: [
            col("identifier_type", "string", false, "What the hash is of: customer_id, email, phone, loyalty_card, device_id, source_record ('<source_system>:<source_id>' of identities) or person_id.", exports.PRIVACY_IDENTIFIER_TYPES),
            col("identifier_sha256", "string", false, "SHA-256 (lower-case hex) of the identifier normalized as the audiences normalize it (macros/identifiers.ts): e-mail trimmed and lower-case, phone as E.164 digits, card and device id upper-case."),
            col("request_id", "string", false, "The erasure request (privacy.privacy_requests) that put it on the list."),
            col("suppressed_at", "timestamp", false, "When it was put on the list (UTC)."),
        ],
    },
    {
        name: "reference_population",
        description: "A reference population to index customers against in marts.profile_report: persons per region × age band × gender, optionally split by household type (each person in exactly one row), for example from Statistics Finland. Empty or absent rows: the report's population columns stay null.",
        columns: [
            col("region", "string", false, "Region, named as raw.stores.region names it (a customer's region in the report is the region of their most used store)."),
            col("age_band", "string", false, "Age band, as customer_profile.age_band.", exports.AGE_BANDS),
            col("gender", "string", false, "Gender, as raw.customers.gender: 'm' or 'f'.", exports.GENDERS),
            col("household_type", "string", true, "family, couple or single; null when the counts are not split by household type.", exports.HOUSEHOLD_TYPES),
            col("persons", "int64", false, "Persons in the cell."),
            col("source", "string", true, "Where the counts come from and for which year, e.g. 'Statistics Finland, 31 Dec 2025'."),
        ],
    },
];
function rawTable(name) {
    const table = exports.RAW_TABLES.find((t) => t.name === name);
    if (!table) {
        throw new Error(`Unknown raw table "${name}". Known tables: ${exports.RAW_TABLES.map((t) => t.name).join(", ")}.`);
    }
    return table;
}
