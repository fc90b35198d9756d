/**
 * Master data of the synthetic chain: cities, stores, the menu, names and campaigns.
 *
 * It is fixed (independent of the seed) so that every generated warehouse shares the same stores and menu;
 * the seed only drives customers and their behaviour. The generator inlines these lists as SQL constants.
 */
import { mulberry32 } from "./random.ts";

export interface City {
  name: string;
  region: string;
  stores: number;
  /** First postal code of the city; districts are postalBase + 10 × k. */
  postalBase: number;
  postalDistricts: number;
}

export const CITIES: readonly City[] = [
  { name: "Helsinki", region: "Uusimaa", stores: 45, postalBase: 100, postalDistricts: 90 },
  { name: "Espoo", region: "Uusimaa", stores: 22, postalBase: 2100, postalDistricts: 84 },
  { name: "Vantaa", region: "Uusimaa", stores: 16, postalBase: 1300, postalDistricts: 48 },
  { name: "Tampere", region: "Pirkanmaa", stores: 20, postalBase: 33100, postalDistricts: 80 },
  { name: "Turku", region: "Varsinais-Suomi", stores: 15, postalBase: 20100, postalDistricts: 80 },
  { name: "Oulu", region: "Pohjois-Pohjanmaa", stores: 14, postalBase: 90100, postalDistricts: 80 },
  { name: "Jyväskylä", region: "Keski-Suomi", stores: 10, postalBase: 40100, postalDistricts: 60 },
  { name: "Kuopio", region: "Pohjois-Savo", stores: 9, postalBase: 70100, postalDistricts: 60 },
  { name: "Lahti", region: "Päijät-Häme", stores: 9, postalBase: 15100, postalDistricts: 60 },
  { name: "Pori", region: "Satakunta", stores: 7, postalBase: 28100, postalDistricts: 40 },
  { name: "Kouvola", region: "Kymenlaakso", stores: 6, postalBase: 45100, postalDistricts: 30 },
  { name: "Joensuu", region: "Pohjois-Karjala", stores: 6, postalBase: 80100, postalDistricts: 30 },
  { name: "Lappeenranta", region: "Etelä-Karjala", stores: 6, postalBase: 53100, postalDistricts: 30 },
  { name: "Hämeenlinna", region: "Kanta-Häme", stores: 6, postalBase: 13100, postalDistricts: 30 },
  { name: "Vaasa", region: "Pohjanmaa", stores: 6, postalBase: 65100, postalDistricts: 30 },
  { name: "Seinäjoki", region: "Etelä-Pohjanmaa", stores: 5, postalBase: 60100, postalDistricts: 25 },
  { name: "Rovaniemi", region: "Lappi", stores: 5, postalBase: 96100, postalDistricts: 25 },
  { name: "Mikkeli", region: "Etelä-Savo", stores: 4, postalBase: 50100, postalDistricts: 20 },
  { name: "Kotka", region: "Kymenlaakso", stores: 4, postalBase: 48100, postalDistricts: 20 },
  { name: "Salo", region: "Varsinais-Suomi", stores: 4, postalBase: 24100, postalDistricts: 20 },
  { name: "Porvoo", region: "Uusimaa", stores: 4, postalBase: 6100, postalDistricts: 20 },
  { name: "Kokkola", region: "Keski-Pohjanmaa", stores: 3, postalBase: 67100, postalDistricts: 15 },
  { name: "Hyvinkää", region: "Uusimaa", stores: 3, postalBase: 5800, postalDistricts: 15 },
  { name: "Lohja", region: "Uusimaa", stores: 3, postalBase: 8100, postalDistricts: 15 },
  { name: "Järvenpää", region: "Uusimaa", stores: 3, postalBase: 4400, postalDistricts: 10 },
  { name: "Kerava", region: "Uusimaa", stores: 3, postalBase: 4200, postalDistricts: 8 },
  { name: "Rauma", region: "Satakunta", stores: 3, postalBase: 26100, postalDistricts: 15 },
  { name: "Kajaani", region: "Kainuu", stores: 3, postalBase: 87100, postalDistricts: 15 },
  { name: "Nokia", region: "Pirkanmaa", stores: 3, postalBase: 37100, postalDistricts: 12 },
  { name: "Kangasala", region: "Pirkanmaa", stores: 2, postalBase: 36200, postalDistricts: 10 },
  { name: "Ylöjärvi", region: "Pirkanmaa", stores: 2, postalBase: 33470, postalDistricts: 5 },
  { name: "Raisio", region: "Varsinais-Suomi", stores: 2, postalBase: 21200, postalDistricts: 8 },
  { name: "Kaarina", region: "Varsinais-Suomi", stores: 2, postalBase: 20760, postalDistricts: 8 },
  { name: "Savonlinna", region: "Etelä-Savo", stores: 2, postalBase: 57100, postalDistricts: 12 },
  { name: "Iisalmi", region: "Pohjois-Savo", stores: 2, postalBase: 74100, postalDistricts: 10 },
  { name: "Imatra", region: "Etelä-Karjala", stores: 2, postalBase: 55100, postalDistricts: 12 },
  { name: "Riihimäki", region: "Kanta-Häme", stores: 2, postalBase: 11100, postalDistricts: 12 },
  { name: "Tuusula", region: "Uusimaa", stores: 2, postalBase: 4300, postalDistricts: 8 },
  { name: "Kirkkonummi", region: "Uusimaa", stores: 2, postalBase: 2400, postalDistricts: 8 },
  { name: "Nurmijärvi", region: "Uusimaa", stores: 2, postalBase: 1900, postalDistricts: 8 },
  { name: "Kemi", region: "Lappi", stores: 2, postalBase: 94100, postalDistricts: 10 },
  { name: "Tornio", region: "Lappi", stores: 2, postalBase: 95400, postalDistricts: 8 },
  { name: "Kempele", region: "Pohjois-Pohjanmaa", stores: 1, postalBase: 90440, postalDistricts: 4 },
  { name: "Sipoo", region: "Uusimaa", stores: 1, postalBase: 4130, postalDistricts: 4 },
  { name: "Maarianhamina", region: "Ahvenanmaa", stores: 1, postalBase: 22100, postalDistricts: 4 },
];

const DISTRICTS: Record<string, readonly string[]> = {
  Helsinki: [
    "Kamppi", "Kallio", "Töölö", "Punavuori", "Pasila", "Itäkeskus", "Malmi", "Herttoniemi", "Vuosaari", "Lauttasaari",
    "Munkkiniemi", "Arabianranta", "Kontula", "Oulunkylä", "Kannelmäki", "Pitäjänmäki", "Hakaniemi", "Sörnäinen",
    "Jätkäsaari", "Kalasatama", "Viikki", "Tapanila", "Malminkartano", "Myllypuro", "Mellunmäki", "Pihlajamäki",
    "Maunula", "Haaga", "Munkkivuori", "Ruoholahti", "Kruununhaka", "Eira", "Vallila", "Käpylä", "Pakila", "Paloheinä",
    "Puistola", "Jakomäki", "Laajasalo", "Kulosaari", "Roihuvuori", "Konala", "Meilahti", "Ruskeasuo", "Siilitie",
  ],
  Espoo: ["Tapiola", "Leppävaara", "Matinkylä", "Espoon keskus", "Espoonlahti", "Otaniemi", "Kivenlahti", "Olari", "Niittykumpu", "Kauklahti", "Kalajärvi"],
  Vantaa: ["Tikkurila", "Myyrmäki", "Martinlaakso", "Koivukylä", "Hakunila", "Kivistö", "Aviapolis", "Korso"],
  Tampere: ["Keskusta", "Hervanta", "Kaleva", "Lielahti", "Tesoma", "Hatanpää", "Linnainmaa", "Pispala", "Kissanmaa", "Ratina"],
  Turku: ["Keskusta", "Hirvensalo", "Runosmäki", "Varissuo", "Skanssi", "Nummi", "Länsikeskus"],
  Oulu: ["Keskusta", "Linnanmaa", "Kaakkuri", "Tuira", "Ritaharju", "Haukipudas", "Kiiminki"],
};

export interface Store {
  storeId: string;
  name: string;
  city: string;
  region: string;
  /** Index into CITIES. */
  cityIndex: number;
  openedAt: string;
}


function buildStores(): Store[] {
  const random = mulberry32(339);
  const used = new Set<string>();
  const stores: Store[] = [];
  CITIES.forEach((city, cityIndex) => {
    const districts = DISTRICTS[city.name] ?? [];
    for (let n = 0; n < city.stores; n++) {
      let storeId: string;
      do {
        storeId = String(1 + Math.floor(random() * 9998)).padStart(4, "0");
      } while (used.has(storeId));
      used.add(storeId);
      const district = districts[n] ?? (n === 0 ? "Keskusta" : `${n + 1}`);
      const openedYear = 1998 + Math.floor(random() * 24);
      const openedMonth = 1 + Math.floor(random() * 12);
      const openedDay = 1 + Math.floor(random() * 28);
      stores.push({
        storeId,
        name: `Slice ${city.name} ${district}`,
        city: city.name,
        region: city.region,
        cityIndex,
        openedAt: `${openedYear}-${String(openedMonth).padStart(2, "0")}-${String(openedDay).padStart(2, "0")} 08:00:00`,
      });
    }
  });
  return stores;
}

export const STORES: readonly Store[] = buildStores();

/** Store codes guaranteed absent from STORES, used to inject unknown store keys. */
export const UNKNOWN_STORE_IDS: readonly string[] = ["0000", "9990", "9991", "9992", "9993", "9994", "9995", "9996", "9997", "9998"].filter(
  (id) => !STORES.some((s) => s.storeId === id),
);

export type Category = "pizzas" | "kids_pizzas" | "dips" | "drinks" | "desserts" | "sides" | "salads" | "delivery_fee";
export const CATEGORIES: readonly Category[] = ["pizzas", "kids_pizzas", "dips", "drinks", "desserts", "sides", "salads", "delivery_fee"];

/** Taste groups of pizzas: each customer leans to one, which gives item-to-item recommendations a signal. */
export const TASTE_GROUPS = ["classic", "meat", "veggie", "seafood", "spicy", "gourmet"] as const;
export type TasteGroup = (typeof TASTE_GROUPS)[number];

export interface Product {
  productId: string;
  name: string;
  category: Category;
  listPriceEur: number;
  /** Relative popularity within the category (or taste group for pizzas). */
  popularity: number;
  tasteGroup?: TasteGroup;
}

function products(prefix: string, category: Category, items: readonly [string, number, number, TasteGroup?][]): Product[] {
  return items.map(([name, listPriceEur, popularity, tasteGroup], i) => ({
    productId: `${prefix}${String(i + 1).padStart(2, "0")}`,
    name,
    category,
    listPriceEur,
    popularity,
    ...(tasteGroup ? { tasteGroup } : {}),
  }));
}

export const PRODUCTS: readonly Product[] = [
  ...products("PZ", "pizzas", [
    ["Margherita", 11.9, 8, "classic"],
    ["Vesuvio", 12.9, 7, "classic"],
    ["Pepperoni", 13.9, 10, "classic"],
    ["Hawaii", 13.9, 7, "classic"],
    ["Capricciosa", 13.9, 4, "classic"],
    ["Quattro Stagioni", 14.9, 3, "classic"],
    ["Bolognese", 13.9, 5, "meat"],
    ["Meat Feast", 15.9, 6, "meat"],
    ["BBQ Chicken", 14.9, 7, "meat"],
    ["Kebab", 14.9, 9, "meat"],
    ["Mexicana", 14.9, 4, "meat"],
    ["Berlusconi", 16.9, 3, "meat"],
    ["Vegetariana", 13.9, 6, "veggie"],
    ["Funghi", 12.9, 5, "veggie"],
    ["Quattro Formaggi", 14.9, 6, "veggie"],
    ["Vegan Garden", 14.9, 4, "veggie"],
    ["Caprese", 13.9, 3, "veggie"],
    ["Spinaci", 13.9, 3, "veggie"],
    ["Frutti di Mare", 15.9, 4, "seafood"],
    ["Tonno", 13.9, 6, "seafood"],
    ["Opera", 13.9, 7, "seafood"],
    ["Salmone", 16.9, 3, "seafood"],
    ["Diavola", 14.9, 6, "spicy"],
    ["Hot Chicken", 14.9, 5, "spicy"],
    ["Jalapeño Kebab", 15.9, 5, "spicy"],
    ["Chili con Carne", 15.9, 3, "spicy"],
    ["Fantasia Hot", 14.9, 3, "spicy"],
    ["Truffle Funghi", 17.9, 4, "gourmet"],
    ["Prosciutto Rucola", 16.9, 5, "gourmet"],
    ["Poro-Kantarelli", 18.9, 3, "gourmet"],
    ["Goat Cheese & Honey", 16.9, 3, "gourmet"],
    ["Nduja Burrata", 18.9, 2, "gourmet"],
  ]),
  ...products("KP", "kids_pizzas", [
    ["Kids Margherita", 7.9, 6],
    ["Kids Ham", 7.9, 8],
    ["Kids Pepperoni", 7.9, 5],
    ["Kids Hawaii", 7.9, 4],
    ["Kids Chicken", 7.9, 3],
  ]),
  ...products("DP", "dips", [
    ["Garlic dip", 1.5, 10],
    ["Aioli", 1.5, 6],
    ["Chili mayo", 1.5, 5],
    ["BBQ dip", 1.5, 4],
    ["Blue cheese dip", 1.9, 3],
    ["Ranch dip", 1.5, 3],
    ["Vegan garlic dip", 1.9, 2],
    ["Salsa", 1.5, 2],
  ]),
  ...products("DR", "drinks", [
    ["Coca-Cola 0.5 l", 3.5, 10],
    ["Coca-Cola Zero 0.5 l", 3.5, 9],
    ["Fanta 0.5 l", 3.5, 4],
    ["Sprite 0.5 l", 3.5, 3],
    ["Coca-Cola 1.5 l", 5.9, 5],
    ["Coca-Cola Zero 1.5 l", 5.9, 5],
    ["Jaffa 0.5 l", 3.5, 4],
    ["Still water 0.5 l", 2.9, 3],
    ["Sparkling water 0.5 l", 2.9, 3],
    ["Lemonade 0.4 l", 3.9, 2],
    ["Iced tea 0.5 l", 3.9, 2],
    ["Lager 0.33 l", 6.9, 4],
    ["Cider 0.33 l", 6.9, 2],
    ["Orange juice 0.25 l", 2.9, 2],
  ]),
  ...products("DS", "desserts", [
    ["Tiramisu", 5.9, 5],
    ["Chocolate brownie", 4.5, 6],
    ["Cheesecake", 5.9, 4],
    ["Ice cream tub", 6.5, 4],
    ["Korvapuusti", 3.9, 3],
    ["Chocolate chip cookie", 2.9, 4],
    ["Mustikkapiirakka", 4.5, 2],
  ]),
  ...products("SD", "sides", [
    ["Garlic bread", 4.9, 8],
    ["Chicken wings 6 pcs", 7.9, 6],
    ["Chicken wings 12 pcs", 12.9, 3],
    ["Fries", 4.5, 7],
    ["Sweet potato fries", 5.5, 4],
    ["Mozzarella sticks", 6.5, 3],
    ["Onion rings", 5.5, 2],
  ]),
  ...products("SL", "salads", [
    ["Caesar salad", 11.9, 6],
    ["Greek salad", 10.9, 4],
    ["Tuna salad", 11.9, 3],
    ["Chicken salad", 11.9, 5],
    ["Vegan bowl", 12.9, 2],
  ]),
  ...products("DF", "delivery_fee", [
    ["Delivery", 4.9, 9],
    ["Delivery, long distance", 7.9, 1],
  ]),
];

/** Product ids guaranteed absent from PRODUCTS, used to inject unknown product keys. */
export const UNKNOWN_PRODUCT_IDS: readonly string[] = ["PZ99", "XX01", "DR99", "OLD-17"];

export function isPizzaCategory(category: Category): boolean {
  return category === "pizzas" || category === "kids_pizzas";
}

/** Dips each taste group reaches for first (by name), so dips co-occur with the pizzas they suit. */
export const TASTE_GROUP_DIPS: Record<TasteGroup, readonly string[]> = {
  classic: ["Garlic dip", "Aioli"],
  meat: ["Garlic dip", "BBQ dip"],
  veggie: ["Vegan garlic dip", "Aioli"],
  seafood: ["Aioli", "Garlic dip"],
  spicy: ["Chili mayo", "Ranch dip"],
  gourmet: ["Blue cheese dip", "Aioli"],
};

/** Share of customers whose taste leans to each group. */
export const TASTE_GROUP_SHARES: Record<TasteGroup, number> = {
  classic: 0.3,
  meat: 0.25,
  veggie: 0.14,
  seafood: 0.1,
  spicy: 0.13,
  gourmet: 0.08,
};

/** Prices rose over the years; list prices are today's (2026). Index by calendar year. */
export const PRICE_INDEX_BY_YEAR: Record<number, number> = { 2018: 0.84, 2019: 0.85, 2020: 0.86, 2021: 0.88, 2022: 0.9, 2023: 0.94, 2024: 0.97, 2025: 0.99, 2026: 1 };

export const FIRST_NAMES_MALE = [
  "Matti", "Juha", "Mikko", "Timo", "Jari", "Antti", "Jukka", "Mika", "Markku", "Pekka", "Janne", "Ville", "Tuomas", "Lauri",
  "Juho", "Eetu", "Aleksi", "Onni", "Elias", "Leo", "Veeti", "Niko", "Joonas", "Sami", "Kari", "Heikki", "Oskari", "Väinö",
] as const;
export const FIRST_NAMES_FEMALE = [
  "Maria", "Anna", "Tiina", "Sari", "Päivi", "Laura", "Johanna", "Minna", "Elina", "Hanna", "Emma", "Aino", "Sofia", "Aada",
  "Ella", "Venla", "Olivia", "Helmi", "Noora", "Katja", "Satu", "Riikka", "Jenni", "Emilia", "Iida", "Pihla", "Siiri", "Kaisa",
] as const;
export const LAST_NAMES = [
  "Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen", "Koskinen", "Järvinen",
  "Lehtonen", "Lehtinen", "Saarinen", "Salminen", "Heinonen", "Niemi", "Heikkilä", "Kinnunen", "Salonen", "Turunen",
  "Salo", "Laitinen", "Tuominen", "Rantanen", "Karjalainen", "Jokinen", "Mattila", "Savolainen", "Lahtinen", "Ahonen",
  "Ojala", "Leppänen", "Kallio", "Hiltunen", "Väisänen", "Leinonen", "Miettinen", "Aaltonen", "Pitkänen", "Manninen",
  "Lindholm", "Nyström", "Berg", "Lindqvist", "Eriksson",
] as const;

export const EMAIL_DOMAINS: readonly [string, number][] = [
  ["gmail.com", 40],
  ["hotmail.com", 12],
  ["outlook.com", 10],
  ["luukku.com", 5],
  ["yahoo.com", 5],
  ["elisanet.fi", 6],
  ["kolumbus.fi", 3],
  ["icloud.com", 9],
  ["live.fi", 6],
  ["saunalahti.fi", 4],
];

export const MOBILE_PREFIXES = ["40", "41", "44", "45", "46", "50"] as const;

/**
 * Coupon campaigns by month of year: the code carries the two-digit year (KESA24).
 * kind "percent": value is the share off the basket; "fixed": euros off (never more than the basket).
 */
export const CAMPAIGNS_BY_MONTH: Record<number, { code: string; kind: "percent" | "fixed"; value: number } | undefined> = {
  1: { code: "TALVI", kind: "percent", value: 0.15 },
  2: { code: "TALVI", kind: "percent", value: 0.15 },
  6: { code: "KESA", kind: "fixed", value: 5 },
  7: { code: "KESA", kind: "fixed", value: 5 },
  8: { code: "KESA", kind: "fixed", value: 5 },
  9: { code: "SYKSY", kind: "percent", value: 0.1 },
  10: { code: "SYKSY", kind: "percent", value: 0.1 },
  12: { code: "JOULU", kind: "percent", value: 0.2 },
};

/** Relative order volume by month (summer dip, December peak); orders are thinned by value / max. */
export const SEASONALITY_BY_MONTH = [0.95, 0.93, 0.98, 0.97, 0.92, 0.8, 0.72, 0.84, 0.98, 1.0, 1.05, 1.25] as const;
