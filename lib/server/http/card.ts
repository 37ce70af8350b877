/**
 * Contacts as CardDAV cards. A card PUT over CardDAV is parsed into the contact's fields
 * (`lib/formats/vcard.ts`, so every door sees the same contact), and the card's own text is
 * kept beside them in `extra.carddav` with the href the client chose and a checksum of the
 * fields it gave: GET serves that text byte for byte while the fields still have that
 * checksum, and a card written from the fields once another door has edited the contact
 * (or when the text does not fit the contact's caps: a large PHOTO).
 *
 * @module
 */

import {
  type Contact,
  type ContactFields,
  USER_FIELDS,
  validateContact,
  ValidationError,
} from "../../model/contact.ts";
import { formatVCard, parseVCards, type VCardVersion } from "../../formats/vcard.ts";
import { uidForContact } from "../../formats/interop.ts";

/** The `extra` key a contact keeps its CardDAV href and card text under. */
export const CARD_KEY = "carddav";

/** What `extra.carddav` holds. */
export interface KeptCard {
  /** The resource name the client chose (`<uuid>.vcf`), without the collection's path. */
  href: string;
  /** The card's text as PUT. */
  card?: string;
  /** {@link fieldsSum} of the contact's fields when the card was PUT. */
  sum?: string;
}

/** A card that cannot be stored; `condition` names the CardDAV precondition it fails. */
export class CardError extends Error {
  readonly condition: "valid-address-data" | "max-resource-size" | "supported-address-data";
  constructor(condition: CardError["condition"], message: string) {
    super(message);
    this.name = "CardError";
    this.condition = condition;
  }
}

/** The card kept in a contact's extra, if any (a value of another shape reads as none). */
export function keptCard(contact: { extra: Record<string, unknown> }): KeptCard | undefined {
  const kept = contact.extra[CARD_KEY] as Partial<KeptCard> | undefined;
  if (typeof kept !== "object" || kept === null || typeof kept.href !== "string") return undefined;
  return {
    href: kept.href,
    ...(typeof kept.card === "string" ? { card: kept.card } : {}),
    ...(typeof kept.sum === "string" ? { sum: kept.sum } : {}),
  };
}

/** The resource name of a contact in the book: the one its client chose, or `<id>.vcf`. */
export function resourceName(contact: Contact): string {
  return keptCard(contact)?.href ?? `${contact.id}.vcf`;
}

/** The contact's UID as its card carries it (one derived from its id when it has none). */
export function cardUid(contact: Contact): string {
  return uidForContact(contact);
}

/**
 * A checksum of a contact's user fields, `extra.carddav` left out (FNV-1a, 64 bits, over
 * their JSON in a fixed order): it changes when any door edits the contact.
 */
export function fieldsSum(fields: ContactFields): string {
  const { [CARD_KEY]: _, ...extra } = fields.extra;
  const values = [...USER_FIELDS].sort().map((name) =>
    name === "extra" ? extra : fields[name as keyof ContactFields]
  );
  const text = JSON.stringify(values);
  let hash = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, "0");
}

/** The vCard version a card's text declares (3.0 when it says something else). */
function versionOf(card: string): VCardVersion {
  return /^VERSION:4\.0\s*$/im.test(card) ? "4.0" : "3.0";
}

/**
 * The card a GET serves: the text PUT over CardDAV while the fields are unchanged (and, if
 * `version` is asked for, of that version), else the fields written as a vCard `version`
 * (default 3.0). `exact` says whether it is the PUT text.
 */
export function cardText(
  contact: Contact,
  version?: VCardVersion,
): { text: string; exact: boolean } {
  const kept = keptCard(contact);
  if (
    kept?.card !== undefined && kept.sum === fieldsSum(contact) &&
    (version === undefined || versionOf(kept.card) === version)
  ) {
    return { text: kept.card, exact: true };
  }
  const { [CARD_KEY]: _, ...extra } = contact.extra;
  return { text: formatVCard({ ...contact, extra }, version ?? "3.0"), exact: false };
}

/** Caps the card text is held to before it is parsed (the contact's caps apply after). */
export const MAX_CARD_BYTES = 1024 * 1024;

/**
 * The fields a card PUT to `href` gives, validated: one vCard, its UID kept, its text kept
 * in `extra.carddav` when the fields and the text fit the contact's caps together (`exact`
 * then); otherwise the fields alone (what did not fit, a large PHOTO, left out).
 * Throws {@link CardError}.
 */
export function fieldsFromCard(
  body: Uint8Array,
  href: string,
): { fields: ContactFields; exact: boolean; uid: string } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    throw new CardError("valid-address-data", "The card is not UTF-8 text");
  }
  if (!/^\s*BEGIN:VCARD\r?\n/i.test(text) || !/END:VCARD\s*$/i.test(text)) {
    throw new CardError(
      "valid-address-data",
      "The body is not a vCard: it must start with BEGIN:VCARD and end with END:VCARD",
    );
  }
  const begins = text.match(/^BEGIN:VCARD\s*$/gim)?.length ?? 0;
  if (begins !== 1) {
    throw new CardError("valid-address-data", `The body holds ${begins} vCards; a PUT takes one`);
  }
  const parsed = parseVCards(text);
  const fields = parsed.contacts[0];
  if (fields === undefined) {
    const why = parsed.skipped[0]?.reason ?? "it has no name";
    throw new CardError("valid-address-data", `The card cannot be stored: ${why}`);
  }
  const plain: ContactFields = { ...fields, extra: { ...fields.extra, [CARD_KEY]: { href } } };
  let base: ContactFields;
  try {
    base = validateContact(plain);
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new CardError("valid-address-data", `The card cannot be stored: ${error.message}`);
    }
    throw error;
  }
  const sum = fieldsSum(base);
  try {
    const whole = validateContact({
      ...base,
      extra: { ...base.extra, [CARD_KEY]: { href, card: text, sum } },
    });
    if (keptCard(whole)?.card === text && fieldsSum(whole) === sum) {
      return { fields: whole, exact: true, uid: fields.uid };
    }
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
  }
  return { fields: base, exact: false, uid: fields.uid };
}
