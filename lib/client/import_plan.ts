/**
 * What an import does with each record, decided before anything is sent: update the stored
 * contact it matches, leave it as it is when nothing differs, or add it (reporting likely
 * duplicates). Pure: the caller reads the stored contacts (one pass through `export`) and
 * sends the writes.
 *
 * A record matches a stored contact by, in this order: its `id` (JSON Lines backups), its
 * `uid` against a stored contact's `uid` or the UID an export writes for it
 * ({@link uidForContact}: the `urn:uuid:` of its id when it has no uid of its own), and the
 * UID derived from its own `id`. A record with neither id nor uid (a phone's export) whose
 * fields equal a stored contact's is that contact, unchanged (each stored contact is claimed
 * by one such record at most), so importing the same file twice adds nothing. Two records of one input that match each other (or the
 * same stored contact) are one contact: the later record is used, with a warning.
 *
 * @module
 */

import {
  type Contact,
  type ContactFields,
  fillMissingFields,
  USER_FIELDS,
} from "../model/contact.ts";
import { userFields } from "./contact_edit.ts";
import { liftExtraFields } from "../model/vcard_fields.ts";
import { DuplicateIndex } from "../model/duplicates.ts";
import { type ImportIssue, uidForContact } from "../formats/interop.ts";

/** A record to import: its 0-based position in the input, its fields, its `id` if any. */
export interface IncomingRecord {
  record: number;
  contact: ContactFields & { id?: string };
}

/** A contact that an added record likely duplicates: a stored one, or an earlier record. */
export interface DuplicateOf {
  /** The stored contact's id (absent for an earlier record of the same input). */
  id?: string;
  /** The earlier record's position (absent for a stored contact). */
  record?: number;
  name: string;
  /** Why: `same name and phone "555-0123"`. */
  reason: string;
}

/** What to do with one record. */
export type ImportStep =
  | {
    kind: "add";
    record: number;
    fields: ContactFields;
    /** The id to restore it under (a backup's id that no stored contact has). */
    id?: string;
    duplicates: DuplicateOf[];
  }
  | { kind: "update"; record: number; fields: ContactFields; target: Contact }
  | { kind: "unchanged"; record: number; target: Contact };

/** The steps, in input order, and what the planning noticed. */
export interface ImportPlan {
  steps: ImportStep[];
  warnings: ImportIssue[];
}

interface IndexEntry {
  name: string;
  phones: ContactFields["phones"];
  emails: ContactFields["emails"];
  id?: string;
  record?: number;
}

/** How to plan. */
export interface PlanOptions {
  /**
   * The `extra` keys the input format can carry (`vcard`, `vcardN`, `address` for vCard;
   * `address` for CSV). When a record updates a stored contact, the stored contact's other
   * `extra` keys are kept rather than dropped. Absent: the record's `extra` replaces all
   * (a JSON Lines backup carries everything).
   */
  carries?: readonly string[];
}

/**
 * The stored `extra` with the keys a format carries taken from the record (and dropped when
 * the record lacks them): what a format cannot express is kept.
 *
 * @example
 * ```ts
 * import { keepExtra } from "./import_plan.ts";
 * const kept = keepExtra({ vcard: ["BDAY:1970"], blob: 1 }, { address: { country: "UK" } }, ["vcard", "address"]);
 * if (JSON.stringify(kept) !== '{"blob":1,"address":{"country":"UK"}}') throw new Error(JSON.stringify(kept));
 * ```
 */
export function keepExtra(
  stored: Record<string, unknown>,
  incoming: Record<string, unknown>,
  carries: readonly string[],
): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(stored)) if (!carries.includes(key)) extra[key] = value;
  for (const [key, value] of Object.entries(incoming)) extra[key] = value;
  return extra;
}

/**
 * The UID an export writes for a stored contact without a uid of its own.
 *
 * @example
 * ```ts
 * import { derivedUid } from "./import_plan.ts";
 * if (!derivedUid("01J0000000000000000000000A").startsWith("urn:uuid:")) throw new Error();
 * ```
 */
export function derivedUid(id: string): string {
  return uidForContact({ id, uid: "" });
}

/**
 * Whether two contacts have the same user fields (`extra` compared whatever its key order).
 * A record stored before issue 15, whose ORG, BDAY, URL... are still lines in `extra.vcard`,
 * is compared as its export writes it (`liftExtraFields`), so that a re-import of that
 * export finds it unchanged.
 *
 * @example
 * ```ts
 * import { sameFields } from "./import_plan.ts";
 * import { blankContact } from "./contact_edit.ts";
 * const a = { ...blankContact("Ann"), extra: { x: 1, y: 2 } };
 * if (!sameFields(a, { ...a, extra: { y: 2, x: 1 } }) || sameFields(a, { ...a, town: "X" })) {
 *   throw new Error();
 * }
 * ```
 */
export function sameFields(a: ContactFields, b: ContactFields): boolean {
  return canonical(pick(a)) === canonical(pick(b));
}

/** Every user field (one a record from an older server lacks read as empty), nothing else. */
function pick(c: ContactFields): Record<string, unknown> {
  const full = liftExtraFields(fillMissingFields(c)).fields as unknown as Record<string, unknown>;
  return Object.fromEntries([...USER_FIELDS].map((key) => [key, full[key]]));
}

function canonical(value: unknown): string {
  return JSON.stringify(
    value,
    (_, v) =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
  );
}

/**
 * Decides what to do with each record, given every stored contact.
 *
 * @example A re-import updates; a new record is added and its duplicate reported
 * ```ts
 * import { planImport } from "./import_plan.ts";
 * import { blankContact } from "./contact_edit.ts";
 * const bob = { ...blankContact("Bob"), phones: [{ label: "", number: "555-0123" }],
 *   id: "01J0000000000000000000000A", version: "1", created: "", updated: "" };
 * const plan = planImport([
 *   { record: 0, contact: { ...blankContact("Bob"), town: "Springfield", id: bob.id } },
 *   { record: 1, contact: { ...blankContact("BOB"), phones: [{ label: "", number: "5550123" }] } },
 * ], [bob]);
 * const [first, second] = plan.steps;
 * if (first?.kind !== "update" || first.target.id !== bob.id) throw new Error();
 * if (second?.kind !== "add" || second.duplicates[0]?.id !== bob.id) throw new Error();
 * ```
 */
export function planImport(
  incoming: Iterable<IncomingRecord>,
  stored: Iterable<Contact>,
  options: PlanOptions = {},
): ImportPlan {
  const carries = options.carries ?? null;
  const byId = new Map<string, Contact>();
  const byUid = new Map<string, Contact>();
  const duplicates = new DuplicateIndex<IndexEntry>();
  // Stored contacts by name, for a record with neither id nor uid: one whose fields equal
  // the record's is that contact imported before (each claimed by one record at most).
  const byName = new Map<string, Contact[]>();
  for (const contact of stored) {
    byId.set(contact.id, contact);
    if (contact.uid !== "" && !byUid.has(contact.uid)) byUid.set(contact.uid, contact);
    const derived = derivedUid(contact.id);
    if (!byUid.has(derived)) byUid.set(derived, contact);
    duplicates.add(contact);
    const named = byName.get(contact.name);
    if (named) named.push(contact);
    else byName.set(contact.name, [contact]);
  }

  const steps: ImportStep[] = [];
  const entries: Array<IndexEntry | undefined> = [];
  const warnings: ImportIssue[] = [];
  const seen = new Map<string, number>(); // "id:..." / "uid:..." / "target:..." -> step
  for (const { record, contact } of incoming) {
    const { id, ...fields } = contact;
    const keys: string[] = [];
    if (id !== undefined) keys.push(`id:${id}`, `uid:${derivedUid(id)}`);
    if (fields.uid !== "") keys.push(`uid:${fields.uid}`);
    const target = (id !== undefined ? byId.get(id) : undefined) ??
      (fields.uid !== "" ? byUid.get(fields.uid) : undefined) ??
      (id !== undefined ? byUid.get(derivedUid(id)) : undefined);
    if (target) keys.push(`target:${target.id}`);
    const earlier = keys.map((key) => seen.get(key)).find((at) => at !== undefined);
    const at = earlier ?? steps.length;

    const replaced = entries[at];
    if (replaced) {
      duplicates.delete(replaced); // the earlier record is replaced by this one
      entries[at] = undefined;
    }
    let step: ImportStep;
    const equal = target || id !== undefined || fields.uid !== ""
      ? undefined
      : claimEqual(byName.get(fields.name), fields, carries);
    if (equal) {
      step = { kind: "unchanged", record, target: equal };
    } else if (target) {
      // A stored contact's extra.vcard lines that are fields since issue 15 (its ORG, BDAY...)
      // are not kept beside the record's own fields.
      const storedExtra = carries === null ? {} : liftExtraFields(userFields(target)).fields.extra;
      const next = withUidOf(
        carries === null
          ? fields
          : { ...fields, extra: keepExtra(storedExtra, fields.extra, carries) },
        target.id,
        target.uid,
      );
      step = sameFields(next, userFields(target))
        ? { kind: "unchanged", record, target }
        : { kind: "update", record, fields: next, target };
    } else {
      const restore = id !== undefined ? withUidOf(fields, id, "") : fields;
      const entry: IndexEntry = { ...restore, record };
      step = {
        kind: "add",
        record,
        fields: restore,
        ...(id !== undefined ? { id } : {}),
        duplicates: duplicates.find(restore).map(({ contact, reason }) => ({
          ...(contact.id !== undefined ? { id: contact.id } : { record: contact.record }),
          name: contact.name,
          reason,
        })),
      };
      duplicates.add(entry);
      entries[at] = entry;
    }
    if (earlier !== undefined) {
      const first = steps[earlier]!;
      warnings.push({
        index: record,
        name: fields.name,
        reason: `Record ${record + 1} is the same contact as record ${first.record + 1} ` +
          `(same ${sharedKey(keys, seen, earlier)}): the later one is used`,
      });
      steps[earlier] = step;
    } else {
      steps.push(step);
    }
    for (const key of keys) seen.set(key, at);
  }
  return { steps, warnings };
}

/**
 * The first of `candidates` (stored contacts of the record's name) whose fields equal the
 * record's, as an update from it would leave them; it is taken out of `candidates`.
 */
function claimEqual(
  candidates: Contact[] | undefined,
  fields: ContactFields,
  carries: readonly string[] | null,
): Contact | undefined {
  if (candidates === undefined) return undefined;
  const at = candidates.findIndex((candidate) => {
    const storedExtra = carries === null ? {} : liftExtraFields(userFields(candidate)).fields.extra;
    const next = carries === null
      ? fields
      : { ...fields, extra: keepExtra(storedExtra, fields.extra, carries) };
    return sameFields(next, userFields(candidate));
  });
  if (at < 0) return undefined;
  return candidates.splice(at, 1)[0];
}

/**
 * The fields with `uid` emptied when it is only the UID an export derives from `id` and the
 * contact had no uid of its own, so an exported and re-imported contact compares equal.
 */
function withUidOf(fields: ContactFields, id: string, ownUid: string): ContactFields {
  if (ownUid === "" && fields.uid !== "" && fields.uid === derivedUid(id)) {
    return { ...fields, uid: "" };
  }
  return fields;
}

function sharedKey(keys: string[], seen: Map<string, number>, step: number): string {
  const key = keys.find((k) => seen.get(k) === step) ?? "";
  return key.startsWith("id:") ? "id" : key.startsWith("uid:") ? "uid" : "stored contact";
}
