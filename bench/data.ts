/**
 * Deterministic test contacts for the bench: contact `i` is always the same, names are
 * unique for the first 131,072, and search queries are drawn from the same word lists.
 *
 * @module
 */

import { blankContact, type ContactFields } from "../lib/model/contact.ts";

const FIRST = [
  "Ada",
  "Alan",
  "Alice",
  "Amir",
  "Anna",
  "Arjun",
  "Ben",
  "Bob",
  "Carla",
  "Chen",
  "Chloe",
  "Dan",
  "Dora",
  "Eli",
  "Emma",
  "Erik",
  "Eva",
  "Fatima",
  "Felix",
  "Grace",
  "Hana",
  "Hugo",
  "Ines",
  "Ivan",
  "Jack",
  "Jose",
  "Julia",
  "Kai",
  "Kenji",
  "Lara",
  "Leo",
  "Lina",
  "Luca",
  "Maya",
  "Mia",
  "Nadia",
  "Nils",
  "Noah",
  "Olga",
  "Omar",
  "Pablo",
  "Priya",
  "Quinn",
  "Rosa",
  "Ruth",
  "Sam",
  "Sara",
  "Sofia",
  "Tariq",
  "Tess",
  "Theo",
  "Uma",
  "Vera",
  "Victor",
  "Wen",
  "Will",
  "Xena",
  "Yara",
  "Yusuf",
  "Zara",
  "Zoe",
  "Ingrid",
  "Otto",
  "Rafael",
];
const LAST = [
  "Abbott",
  "Baker",
  "Bauer",
  "Brown",
  "Castro",
  "Chen",
  "Clark",
  "Cohen",
  "Costa",
  "Davies",
  "Dubois",
  "Evans",
  "Fischer",
  "Garcia",
  "Gomez",
  "Green",
  "Hall",
  "Hansen",
  "Ito",
  "Jones",
  "Kim",
  "Klein",
  "Kowalski",
  "Lee",
  "Lopez",
  "Martin",
  "Meyer",
  "Moreau",
  "Muller",
  "Nagy",
  "Novak",
  "Nunez",
  "Okafor",
  "Olsen",
  "Patel",
  "Perez",
  "Quinn",
  "Rossi",
  "Sato",
  "Schmidt",
  "Silva",
  "Singh",
  "Smith",
  "Suzuki",
  "Taylor",
  "Tanaka",
  "Torres",
  "Varga",
  "Wagner",
  "Walker",
  "Wang",
  "Weber",
  "White",
  "Wilson",
  "Wong",
  "Young",
  "Zhang",
  "Ziegler",
  "Haas",
  "Ortiz",
  "Berg",
  "Lund",
  "Moss",
  "Reyes",
];
const MIDDLE = [
  "Ash",
  "Bay",
  "Cole",
  "Dale",
  "Eve",
  "Fay",
  "Gil",
  "Hope",
  "Ivy",
  "Jay",
  "Kit",
  "Lane",
  "May",
  "Ned",
  "Oak",
  "Pia",
  "Rae",
  "Sky",
  "Tom",
  "Val",
  "Wynn",
  "Max",
  "Ray",
  "Lou",
  "Jo",
  "Kay",
  "Lyn",
  "Mo",
  "Nell",
  "Pat",
  "Roy",
  "Sue",
];
const TOWNS = [
  "Springfield",
  "Riverton",
  "Lakeside",
  "Hillcrest",
  "Fairview",
  "Greenville",
  "Oakdale",
  "Mapleton",
  "Brookfield",
  "Ashford",
  "Westbury",
  "Northgate",
  "Eastwood",
  "Southport",
  "Kingsbridge",
  "Millbrook",
];
const STREETS = ["High", "Church", "Station", "Park", "Mill", "Queen", "Victoria", "Green"];

/** The user fields of bench contact `i`. */
export interface BenchContact {
  name: string;
  house: string;
  street: string;
  town: string;
  phones: Array<{ label: string; number: string }>;
  emails: Array<{ label: string; address: string }>;
}

/** The name of contact `i`: unique for `i < 131072`. */
export function benchName(i: number): string {
  const first = FIRST[i % 64]!, last = LAST[Math.floor(i / 64) % 64]!;
  if (i < 4096) return `${first} ${last}`;
  return `${first} ${MIDDLE[Math.floor(i / 4096) % 32]} ${last}`;
}

/**
 * Bench contact `i`.
 *
 * @example Contacts are deterministic
 * ```ts
 * import { benchContact } from "./data.ts";
 * if (benchContact(5).name !== benchContact(5).name) throw new Error();
 * if (benchContact(0).name === benchContact(1).name) throw new Error();
 * ```
 */
export function benchContact(i: number): BenchContact {
  const name = benchName(i);
  const town = TOWNS[i % TOWNS.length]!;
  return {
    name,
    house: String(i % 200 + 1),
    street: `${STREETS[i % STREETS.length]} Street`,
    town,
    phones: [{ label: "mobile", number: `555-${String(i).padStart(7, "0")}` }],
    emails: [{
      label: "home",
      address: `${name.toLowerCase().replace(/ /g, ".")}${i}@${town.toLowerCase()}.net`,
    }],
  };
}

/** The classic protocol's `add:` message for contact `i`. */
export function classicAdd(i: number): string {
  const c = benchContact(i);
  return `add:${c.name},${c.house} ${c.street}, ${c.town}, ${c.phones[0]!.number}`;
}

/**
 * A search query a person might type, drawn with `random` (0 <= r < 1): a surname prefix, a
 * first and last name, a town, a town and a surname, or the start of a phone number.
 */
export function searchQuery(random: () => number, contacts: number): string {
  const i = Math.floor(random() * Math.max(1, contacts));
  const c = benchContact(i);
  const [first, ...rest] = c.name.split(" ");
  const last = rest.at(-1)!;
  switch (Math.floor(random() * 5)) {
    case 0:
      return last.slice(0, 3);
    case 1:
      return `${first} ${last}`;
    case 2:
      return `${c.town.slice(0, 5)} ${last}`;
    case 3:
      return `${first!.slice(0, 2)} ${last.slice(0, 2)}`;
    default:
      return c.phones[0]!.number.slice(0, 9);
  }
}

/** The UID of bench contact `i` in a vCard file: a fixed `urn:uuid:` that ends in `i`. */
export function benchUid(i: number): string {
  return `urn:uuid:00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
}

/**
 * Bench contact `i` with every user field (uid {@link benchUid}, the others empty), as
 * `export --format vcard` writes it.
 */
export function benchCard(i: number): ContactFields {
  return { ...blankContact(), ...benchContact(i), uid: benchUid(i) };
}
