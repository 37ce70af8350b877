/**
 * Editing contacts on the client: the user fields of a stored contact (what `update` must
 * send back, since it replaces every user field), a patch applied to them, and input checked
 * with the server's own validation, so both ends agree on what is valid.
 *
 * @module
 */

import {
  type Contact,
  type ContactFields,
  validateContact,
  ValidationError,
} from "../model/contact.ts";

/**
 * The user fields of a stored contact: everything but `id`, `version`, `created`, `updated`.
 * Unknown fields (`uid`, `extra`) are kept, so an update does not lose them.
 *
 * @example
 * ```ts
 * import { blankContact, userFields } from "./contact_edit.ts";
 * const fields = userFields({ id: "01J0000000000000000000000A", version: "1", created: "", updated: "",
 *   ...blankContact("Bob"), uid: "u1", extra: { x: 1 } });
 * if ("id" in fields || fields.uid !== "u1" || fields.name !== "Bob") throw new Error();
 * ```
 */
export function userFields(contact: Contact): ContactFields {
  const { id: _id, version: _version, created: _created, updated: _updated, ...fields } = contact;
  return fields;
}

/**
 * A contact's fields with a patch applied: fields in the patch replace the contact's.
 *
 * @example
 * ```ts
 * import { applyPatch, blankContact } from "./contact_edit.ts";
 * const before = { ...blankContact("Bob"), town: "Springfield" };
 * const after = applyPatch(before, { town: "Shelbyville" });
 * if (after.town !== "Shelbyville" || after.name !== "Bob" || before.town !== "Springfield") throw new Error();
 * ```
 */
export function applyPatch(fields: ContactFields, patch: Partial<ContactFields>): ContactFields {
  return { ...fields, ...patch };
}

export { blankContact } from "../model/contact.ts";

/**
 * Checks contact fields with the server's validation. Returns the clean fields, or the
 * problem: a message for a person and the field (`name`, `phones`, ...) to ask again.
 *
 * @example A phone without digits
 * ```ts
 * import { blankContact, checkFields } from "./contact_edit.ts";
 * const result = checkFields({ ...blankContact("Bob"), phones: [{ label: "", number: "none" }] });
 * if (result.ok || result.field !== "phones") throw new Error();
 * if (result.message !== 'Phone number "none" has no digits') throw new Error(result.message);
 * ```
 */
export function checkFields(
  fields: Partial<ContactFields>,
): { ok: true; fields: ContactFields } | { ok: false; field: string; message: string } {
  try {
    return { ok: true, fields: validateContact(fields) };
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const field = /^contact\.(\w+)/.exec(error.field)?.[1] ?? "contact";
    return { ok: false, field, message: cleanMessage(error.message) };
  }
}

/**
 * A server or validation message as a person reads it: without the `Invalid params:` lead,
 * with the first letter capitalised.
 *
 * @example
 * ```ts
 * import { cleanMessage } from "./contact_edit.ts";
 * if (cleanMessage("Invalid params: contact.town is 1001 characters long") !== "Town is 1001 characters long") {
 *   throw new Error();
 * }
 * ```
 */
export function cleanMessage(message: string): string {
  const text = message.replace(/^Invalid params: /, "").replace(/^contact\./, "")
    .replace(/^the contact's /, "the ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}
