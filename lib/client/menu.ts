/**
 * The interactive menu, for people: the tutorial's Add, Delete and Find at its heart, plus
 * List, Search and Edit, then Quit. It reads answers through a {@link Prompter}, so it works
 * the same on a terminal and on a pipe; the end of input quits cleanly.
 *
 * The menu's connection watches the server's changes (`watch`): when a contact the last
 * action showed is changed or removed by someone else, a one-line note is printed before the
 * next prompt (the menu's own changes are not noted).
 *
 * @module
 */

import type { Page } from "../protocol/api.ts";
import type { Contact, ContactFields } from "../model/contact.ts";
import { parseEmails, parseGroups, parsePhones, parseUrls } from "./config.ts";
import { blankContact, checkFields, cleanMessage, userFields } from "./contact_edit.ts";
import { likelyDuplicates } from "./commands.ts";
import { mergeInto } from "../model/duplicates.ts";
import {
  FIELD_LABELS,
  fieldText,
  formatCard,
  formatDifferences,
  formatEmail,
  formatPhone,
  formatSummary,
  formatTable,
  type ShownContact,
} from "./format.ts";
import { isId } from "../model/ids.ts";

/** How the merge report names the one-value fields it filled in. */
const FIELD_NAMES = {
  org: "organisation",
  title: "job title",
  nickname: "nickname",
  birthday: "birthday",
  anniversary: "anniversary",
} as const;

/** The fields that hold lists (cleared to `[]` with `-`). */
const LIST_FIELDS: ReadonlyArray<keyof ShownContact> = ["phones", "emails", "urls", "groups"];
import { plural } from "../model/text.ts";
import { sameFields } from "./import_plan.ts";
import type { Prompter } from "./line_input.ts";
import { ConnectionError, type Notification, RemoteError, type RpcClient } from "./rpc_client.ts";

/** The menu's items, in order; the number shown is the index plus one. */
export const MENU_ITEMS = [
  { key: "add", label: "Add entry" },
  { key: "delete", label: "Delete entry" },
  { key: "find", label: "Find entry" },
  { key: "list", label: "List entries" },
  { key: "search", label: "Search" },
  { key: "edit", label: "Edit entry" },
  { key: "quit", label: "Quit" },
] as const;

type Action = (typeof MENU_ITEMS)[number]["key"];

/** The items that write, refused up front on a read-only connection. */
const WRITES: ReadonlySet<Action> = new Set(["add", "delete", "edit"]);

/**
 * Reads a menu choice: its number, `q`, or the item's name (`add`, `find`, ...).
 *
 * @example
 * ```ts
 * import { parseChoice } from "./menu.ts";
 * if (parseChoice("1") !== "add" || parseChoice(" Q ") !== "quit" || parseChoice("8") !== null) {
 *   throw new Error();
 * }
 * ```
 */
export function parseChoice(answer: string): Action | null {
  const text = answer.trim().toLowerCase();
  if (text === "q" || text === "quit" || text === "exit") return "quit";
  if (/^\d+$/.test(text)) return MENU_ITEMS[Number(text) - 1]?.key ?? null;
  return MENU_ITEMS.find((item) => item.key === text)?.key ?? null;
}

/** How the menu talks to its user and its server. */
export interface MenuOptions {
  prompter: Prompter;
  /** Opens a new connection, to reconnect after the server closed one. */
  connect(): Promise<RpcClient>;
  /** Results shown per page (a screenful). */
  pageSize?: number;
  /** Width of the output, for tables. */
  columns?: number;
}

/** The input ended while the menu was asking something. */
class EndOfInput extends Error {
  constructor() {
    super("End of input");
    this.name = "EndOfInput";
  }
}

/** At most this many results are shown as cards; more become a table. */
const MAX_CARDS = 3;

/**
 * Runs the menu on a connected client until the user quits or the input ends. Returns the
 * exit code: 0, or 3 when the connection was lost and the user chose not to reconnect.
 * Closes whichever client it holds at the end.
 *
 * @example Piped answers (needs a running server)
 * ```ts ignore
 * import { runMenu } from "./menu.ts";
 * import { LineReader, Prompter, writeStdout } from "./line_input.ts";
 * import { RpcClient } from "./rpc_client.ts";
 * const options = { host: "127.0.0.1", port: 2007, timeoutMs: 5000 };
 * const input = new LineReader(ReadableStream.from([new TextEncoder().encode("4\nq\n")]));
 * const prompter = new Prompter(input, writeStdout, true);
 * const code = await runMenu(
 *   { prompter, connect: () => RpcClient.connect(options) },
 *   await RpcClient.connect(options),
 * );
 * ```
 */
export async function runMenu(options: MenuOptions, client: RpcClient): Promise<number> {
  const menu = new Menu(options, client);
  try {
    return await menu.run();
  } finally {
    await menu.close();
  }
}

/** What add and update (the contact) or remove (`{removed}`) answer. */
type OwnWrite = { id: string; version: string } | { removed: { id: string } };

/** A change pushed by the server, as the menu keeps it until the next prompt. */
interface Change {
  type: string;
  id: string;
  name: string;
  version: string;
}

class Menu {
  readonly #options: MenuOptions;
  readonly #p: Prompter;
  readonly #pageSize: number;
  #client: RpcClient;
  /** Contacts the last action showed: id -> name. */
  readonly #shown = new Map<string, string>();
  /** Changes to shown contacts, waiting for the next prompt. */
  #changes: Change[] = [];
  /** Versions this menu wrote, and ids it removed: their changes are not news. */
  readonly #ownVersions = new Set<string>();
  readonly #ownRemovals = new Set<string>();

  constructor(options: MenuOptions, client: RpcClient) {
    this.#options = options;
    this.#p = options.prompter;
    this.#pageSize = Math.max(3, Math.min(100, options.pageSize ?? 20));
    this.#client = client;
  }

  close(): Promise<void> {
    return this.#client.dispose();
  }

  /** Watches a newly connected client's changes; a server without `watch` is fine too. */
  async #watch(client: RpcClient): Promise<void> {
    client.onNotification = (notification) => this.#onChange(notification);
    try {
      await client.call("watch");
    } catch (error) {
      if (!(error instanceof RemoteError)) throw error;
    }
  }

  #onChange({ method, params }: Notification): void {
    if (method !== "changed" || typeof params.id !== "string") return;
    if (!this.#shown.has(params.id)) return;
    this.#changes.push(params as unknown as Change);
  }

  /** Remembers the contacts an action shows, for notes about them. */
  #showing(contacts: ReadonlyArray<{ id: string; name: string }>): void {
    for (const { id, name } of contacts) this.#shown.set(id, name);
  }

  /** Remembers a change this menu made itself. */
  #own(result: OwnWrite): void {
    if ("removed" in result) this.#ownRemovals.add(result.removed.id);
    else this.#ownVersions.add(result.version);
  }

  /** Prints a note for each change someone else made to a shown contact, then asks. */
  #prompt(question: string): Promise<string | null> {
    const changes = this.#changes;
    this.#changes = [];
    for (const change of changes) {
      if (
        change.type === "removed"
          ? this.#ownRemovals.has(change.id)
          : this.#ownVersions.has(change.version)
      ) {
        continue;
      }
      const name = this.#shown.get(change.id) ?? change.name;
      this.#p.print(
        change.type === "removed"
          ? `(Note: ${name} was just deleted by someone else.)`
          : `(Note: ${name} was just changed by someone else` +
            (change.name !== name ? `; it is now named ${change.name}` : "") +
            "; Find or List shows it as it is now.)",
      );
    }
    return this.#p.ask(question);
  }

  async #call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (this.#client.closed) {
      // The server closed the connection between requests (a restart): nothing was under
      // way, so connect again and say so.
      const client = await this.#options.connect();
      await this.#client.dispose();
      this.#client = client;
      this.#p.print(`(The server had closed the connection; reconnected to ${client.address}.)`);
      await this.#watch(client);
    }
    const result = await this.#client.call<T>(method, params);
    if (method === "add" || method === "update" || method === "remove") {
      this.#own(result as OwnWrite);
    }
    return result;
  }

  async run(): Promise<number> {
    const p = this.#p;
    try {
      await this.#watch(this.#client);
      const { count } = await this.#call<{ count: number }>("count");
      const { server, version } = this.#client.hello;
      const readOnly = this.#client.access === "read-only" ? " (read-only token)" : "";
      p.print(
        `Connected to ${server} ${version} at ${this.#client.address}${readOnly}: ` +
          `${plural(count, "entry", "entries")}.`,
      );
    } catch (error) {
      if (!(error instanceof ConnectionError || error instanceof RemoteError)) throw error;
      if (!await this.#recover(error)) return 3;
    }
    while (true) {
      p.print();
      MENU_ITEMS.forEach((item, i) => p.print(`  ${i + 1}) ${item.label}`));
      const answer = await this.#prompt(`Choose an option [1-${MENU_ITEMS.length}, q to quit]: `);
      if (answer === null) return this.#bye();
      const action = parseChoice(answer);
      if (action === null) {
        p.print(
          answer === ""
            ? `Please choose an option: a number from 1 to ${MENU_ITEMS.length}, or q to quit.`
            : `Invalid choice ${JSON.stringify(answer)}: choose a number from 1 to ` +
              `${MENU_ITEMS.length}, or q to quit.`,
        );
        continue;
      }
      if (action === "quit") return this.#bye();
      if (WRITES.has(action) && this.#client.access === "read-only") {
        // Say so now, not after every question of the form has been answered.
        p.print(
          "Your token is read-only: you can find, list and search, but not add, edit or " +
            "delete. Ask the server's admin for the read-write token.",
        );
        continue;
      }
      this.#shown.clear();
      try {
        await this[action]();
      } catch (error) {
        if (error instanceof EndOfInput) return this.#bye();
        if (error instanceof ConnectionError || error instanceof RemoteError) {
          if (!await this.#recover(error)) return 3;
          continue;
        }
        throw error;
      }
    }
  }

  #bye(): number {
    this.#p.print("Bye.");
    return 0;
  }

  /** Reports a failure; after a lost connection, offers to reconnect. False: give up. */
  async #recover(error: ConnectionError | RemoteError): Promise<boolean> {
    const p = this.#p;
    if (error instanceof RemoteError) {
      p.print(`The server refused: ${cleanMessage(error.message)} (${error.reason}).`);
      if (!this.#client.closed) return true;
    } else {
      p.print(`${error.message}.`);
      if (error.connected) p.print("What you were doing may not have been saved.");
    }
    while (true) {
      const answer = await p.ask("Reconnect? [Y/n]: ");
      if (answer === null || /^n/i.test(answer)) {
        p.print("Bye.");
        return false;
      }
      try {
        const client = await this.#options.connect();
        await this.#client.dispose();
        this.#client = client;
        await this.#watch(client);
        p.print(`Reconnected to ${client.address}.`);
        return true;
      } catch (again) {
        if (!(again instanceof ConnectionError || again instanceof RemoteError)) throw again;
        p.print(`${again.message}.`);
      }
    }
  }

  /** Asks a question; throws {@link EndOfInput} at the end of input. */
  async #ask(question: string): Promise<string> {
    const answer = await this.#prompt(question);
    if (answer === null) throw new EndOfInput();
    return answer;
  }

  async #yes(question: string, byDefault = false): Promise<boolean> {
    const answer = (await this.#ask(question)).toLowerCase();
    if (answer === "") return byDefault;
    return answer === "y" || answer === "yes";
  }

  /**
   * Asks for one field until the answer is valid. `current` (when editing) is kept on an
   * empty answer and cleared with `-`; without it, an empty answer leaves the field empty,
   * or asks again when `required`.
   */
  async #askField(
    draft: ContactFields,
    field: keyof ShownContact,
    question: string,
    options: { required?: boolean; editing?: boolean } = {},
  ): Promise<ContactFields> {
    while (true) {
      const answer = await this.#ask(question);
      let value: ContactFields[typeof field];
      if (answer === "" && options.editing) return draft;
      if (answer === "" && options.required) {
        this.#p.print(`The ${field} is required.`);
        continue;
      }
      if (answer === "-" && options.editing) {
        if (options.required) {
          this.#p.print(`The ${field} is required; press Enter to keep it.`);
          continue;
        }
        value = LIST_FIELDS.includes(field) ? [] : "";
      } else if (field === "phones") {
        value = parsePhones(answer);
      } else if (field === "emails") {
        value = parseEmails(answer);
      } else if (field === "urls") {
        value = parseUrls(answer);
      } else if (field === "groups") {
        value = parseGroups(answer);
      } else {
        value = answer;
      }
      const next = { ...draft, [field]: value };
      const checked = checkFields(next);
      if (!checked.ok && checked.field === field) {
        this.#p.print(`${checked.message}; please try again.`);
        continue;
      }
      return next;
    }
  }

  async add(): Promise<void> {
    const p = this.#p;
    p.print("Add an entry: the name is required; press Enter to skip any other field.");
    let draft = blankContact("");
    draft = await this.#askField(draft, "name", "Enter the name: ", { required: true });
    draft = await this.#askField(draft, "house", "Enter the house number: ");
    draft = await this.#askField(draft, "street", "Enter the street name: ");
    draft = await this.#askField(draft, "town", "Enter the town: ");
    draft = await this.#askField(draft, "postcode", "Enter the postcode (optional): ");
    draft = await this.#askField(draft, "phones", "Enter the phone number: ");
    draft = await this.#askField(draft, "emails", "Enter the email address (optional): ");
    draft = await this.#askField(draft, "org", "Enter the organisation (optional): ");
    draft = await this.#askField(draft, "title", "Enter the job title (optional): ");
    draft = await this.#askField(draft, "nickname", "Enter the nickname (optional): ");
    draft = await this.#askField(
      draft,
      "birthday",
      "Enter the birthday, YYYY-MM-DD or --MM-DD (optional): ",
    );
    draft = await this.#askField(
      draft,
      "anniversary",
      "Enter the anniversary, YYYY-MM-DD or --MM-DD (optional): ",
    );
    draft = await this.#askField(draft, "urls", "Enter the web address (optional): ");
    draft = await this.#askField(draft, "groups", "Enter the groups, Family, Work (optional): ");
    draft = await this.#askField(draft, "notes", "Enter notes (optional): ");
    if (!await this.#checkDuplicates(draft)) return;
    const added = await this.#call<Contact>("add", { contact: draft });
    p.print();
    this.#showing([added]);
    p.print(formatCard(added));
    p.print(`Added entry for ${added.name}.`);
    const same = await this.#call<Page>("find", { name: added.name, limit: 100 });
    if (same.contacts.length > 1) {
      p.print(
        `Note: ${same.contacts.length}${same.cursor ? "+" : ""} entries are now named ` +
          `${added.name}; Delete and Edit will ask which one.`,
      );
    }
  }

  /**
   * Before an add: when contacts with the same name share a phone or an email with the
   * draft, lists them and offers to merge the draft into one, add it anyway, or cancel.
   * True: go on and add it.
   */
  async #checkDuplicates(draft: ContactFields): Promise<boolean> {
    const p = this.#p;
    const likely = await likelyDuplicates({
      call: <T>(method: string, params?: Record<string, unknown>) => this.#call<T>(method, params),
    }, draft);
    if (likely.length === 0) return true;
    p.print();
    p.print(`${draft.name} may already be in the book:`);
    likely.forEach(({ contact, reason }, i) =>
      p.print(`  ${i + 1}) ${formatSummary(contact)} (${reason})`)
    );
    const one = likely.length === 1;
    while (true) {
      const answer = (await this.#ask(
        one
          ? "Merge into it [m], add anyway [a], or cancel [c]? [m/a/c]: "
          : `Merge into one [1-${likely.length}], add anyway [a], or cancel [c]? `,
      )).toLowerCase();
      if (answer === "a" || answer === "add") return true;
      if (answer === "c" || answer === "cancel" || answer === "q") {
        p.print("Not added.");
        return false;
      }
      const pick = one && (answer === "m" || answer === "merge")
        ? likely[0]
        : /^\d+$/.test(answer)
        ? likely[Number(answer) - 1]
        : undefined;
      if (pick) {
        await this.#merge(pick.contact, draft);
        return false;
      }
      p.print(
        `Invalid choice ${JSON.stringify(answer)}: ` +
          (one ? "m merges, a adds anyway, c cancels." : `a number from 1 to ${likely.length} ` +
            "merges into that entry, a adds anyway, c cancels."),
      );
    }
  }

  /** Adds the draft's phones, emails and notes to an existing contact (with its version). */
  async #merge(existing: Contact, draft: ContactFields): Promise<void> {
    const p = this.#p;
    let base = existing;
    for (let attempt = 0; attempt < 5; attempt++) {
      const merged = mergeInto(userFields(base), draft);
      const added = [
        ...merged.phones.map((phone) => `phone ${formatPhone(phone)}`),
        ...merged.emails.map((email) => `email ${formatEmail(email)}`),
        ...merged.urls.map((url) => `web address ${url.url}`),
        ...merged.groups.map((group) => `group ${group}`),
        ...merged.filled.map((field) => `the ${FIELD_NAMES[field]}`),
        ...(merged.notes ? ["the notes"] : []),
        ...(merged.address.length > 0 ? ["the address"] : []),
      ];
      for (const line of merged.leftOut) p.print(`${line}.`);
      if (added.length === 0) {
        p.print(`${base.name} already has all of that: nothing changed.`);
        return;
      }
      try {
        const saved = await this.#call<Contact>("update", {
          id: base.id,
          version: base.version,
          contact: merged.fields,
        });
        p.print();
        p.print(formatCard(saved));
        p.print(`Merged into ${saved.name}: added ${added.join(", ")}.`);
        return;
      } catch (error) {
        if (!(error instanceof RemoteError)) throw error;
        if (error.reason === "NOT_FOUND") {
          p.print(`Someone else deleted ${base.name} meanwhile.`);
          if (await this.#yes("Add yours as a new entry? [y/N]: ")) {
            const saved = await this.#call<Contact>("add", { contact: draft });
            p.print(`Added entry for ${saved.name}.`);
          }
          return;
        }
        if (error.reason !== "CONFLICT") throw error;
        base = error.data.current as Contact; // changed elsewhere: merge into what it is now
      }
    }
    p.print(`${base.name} keeps changing elsewhere: not merged; try again later.`);
  }

  async find(): Promise<void> {
    const p = this.#p;
    const name = await this.#ask("Enter the name: ");
    if (name === "") return p.print("No name given: nothing to find.");
    const found = await this.#showResults((cursor) =>
      this.#call<Page>("find", { name, cursor, limit: this.#pageSize })
    );
    if (found) return;
    p.print(`Sorry, no entry for ${name}.`);
    const similar = await this.#call<Page>("search", { query: name, limit: 1 });
    if (similar.contacts.length > 0) {
      p.print(`Entries that match ${JSON.stringify(name)}:`);
      await this.#showResults((cursor) =>
        this.#call<Page>("search", { query: name, cursor, limit: this.#pageSize })
      );
    }
  }

  async search(): Promise<void> {
    const p = this.#p;
    p.print(
      "Search by the start of words in the name, street, town, email, organisation, nickname " +
        "or groups, or by phone digits; group: NAME lists a group.",
    );
    const query = await this.#ask("Search for: ");
    if (query === "") return p.print("No words given: nothing to search for.");
    const group = /^group\s*:\s*(.*\S)\s*$/i.exec(query)?.[1];
    if (group !== undefined) {
      const found = await this.#showResults((cursor) =>
        this.#groupPage({ group, cursor, limit: this.#pageSize })
      );
      if (!found) p.print(`No entry is in the group ${JSON.stringify(group)}.`);
      return;
    }
    const found = await this.#showResults((cursor) =>
      this.#call<Page>("search", { query, cursor, limit: this.#pageSize })
    );
    if (!found) p.print(`Nothing matches ${JSON.stringify(query)}.`);
  }

  /**
   * A page of a group's members. The server looks at a bounded number of candidates a call,
   * so a page may come back empty with a cursor: asked again until one holds some, or ends.
   */
  async #groupPage(params: { group: string; cursor: string | null; limit: number }): Promise<Page> {
    let page = await this.#call<Page>("list", params);
    for (let round = 0; round < 1000 && page.contacts.length === 0 && page.cursor; round++) {
      page = await this.#call<Page>("list", { ...params, cursor: page.cursor });
    }
    return page;
  }

  async list(): Promise<void> {
    const found = await this.#showResults((cursor) =>
      this.#call<Page>("list", { cursor, limit: this.#pageSize })
    );
    if (!found) this.#p.print("The address book is empty: choose 1 to add an entry.");
  }

  /**
   * Shows results page by page: a few as cards, more as a numbered table with a prompt to
   * see one in full or go on to the next page. Returns false when there were none.
   */
  async #showResults(fetch: (cursor: string | null) => Promise<Page>): Promise<boolean> {
    const p = this.#p;
    let page = await fetch(null);
    if (page.contacts.length === 0) return false;
    if (page.contacts.length <= MAX_CARDS && page.cursor === null) {
      p.print();
      this.#showing(page.contacts);
      p.print(page.contacts.map((contact) => formatCard(contact)).join("\n\n"));
      return true;
    }
    const shown: Contact[] = [];
    while (true) {
      this.#showing(page.contacts);
      p.print();
      p.print(
        formatTable(page.contacts, { first: shown.length + 1, columns: this.#options.columns }),
      );
      shown.push(...page.contacts);
      const more = page.cursor !== null;
      while (true) {
        const answer = (await this.#ask(
          more
            ? `Shown 1-${shown.length}. Enter: more · number: see an entry · q: stop: `
            : `${plural(shown.length, "entry", "entries")}. Number: see an entry · Enter: back: `,
        )).toLowerCase();
        if (answer === "q") return true;
        if (answer === "") break;
        const row = /^\d+$/.test(answer) ? shown[Number(answer) - 1] : undefined;
        if (row === undefined) {
          p.print(
            `Invalid choice ${JSON.stringify(answer)}: a number from 1 to ${shown.length}, ` +
              (more ? "Enter for more, or q to stop." : "or Enter to go back."),
          );
          continue;
        }
        p.print();
        p.print(formatCard(row));
      }
      if (!more) return true;
      page = await fetch(page.cursor);
      if (page.contacts.length === 0) return true;
    }
  }

  /**
   * Asks which contact to act on: by id, by exact name, or else among those a search finds.
   * Lists several and lets the user pick. Null: none, or the user cancelled.
   */
  async #choose(verb: string): Promise<Contact | null> {
    const p = this.#p;
    const answer = await this.#ask(`Enter the name of the entry to ${verb}: `);
    if (answer === "") {
      p.print(`No name given: nothing to ${verb}.`);
      return null;
    }
    if (isId(answer)) {
      try {
        return await this.#call<Contact>("get", { id: answer });
      } catch (error) {
        if (!(error instanceof RemoteError && error.reason === "NOT_FOUND")) throw error;
        // Not an id after all: treat it as a name.
      }
    }
    const exact = await this.#call<Page>("find", { name: answer, limit: 100 });
    let page = exact;
    if (exact.contacts.length === 1) return exact.contacts[0]!;
    if (exact.contacts.length === 0) {
      page = await this.#call<Page>("search", { query: answer, limit: 20 });
      if (page.contacts.length === 0) {
        p.print(`Sorry, no entry for ${answer}.`);
        return null;
      }
      if (page.contacts.length === 1) {
        const only = page.contacts[0]!;
        const yes = await this.#yes(
          `No entry is named ${answer}. Did you mean ${only.name}? [Y/n]: `,
          true,
        );
        return yes ? only : null;
      }
      p.print(`No entry is named ${answer}; these match it:`);
    } else {
      p.print(`${exact.contacts.length}${exact.cursor ? "+" : ""} entries are named ${answer}:`);
    }
    const candidates = page.contacts;
    this.#showing(candidates);
    candidates.forEach((contact, i) => p.print(`  ${i + 1}) ${formatSummary(contact)}`));
    if (page.cursor) p.print("  (and more: type a fuller name to narrow it down)");
    while (true) {
      const pick = await this.#ask(`Which one? [1-${candidates.length}, Enter to cancel]: `);
      if (pick === "" || pick.toLowerCase() === "q") {
        p.print("Cancelled.");
        return null;
      }
      const chosen = /^\d+$/.test(pick) ? candidates[Number(pick) - 1] : undefined;
      if (chosen) return chosen;
      p.print(
        `Invalid choice ${JSON.stringify(pick)}: a number from 1 to ${candidates.length}, ` +
          "or Enter to cancel.",
      );
    }
  }

  async delete(): Promise<void> {
    const p = this.#p;
    let contact = await this.#choose("delete");
    if (contact === null) return;
    while (true) {
      p.print();
      this.#showing([contact]);
      p.print(formatCard(contact));
      if (!await this.#yes(`Delete ${contact.name}? [y/N]: `)) {
        p.print("Not deleted.");
        return;
      }
      try {
        await this.#call("remove", { id: contact.id, version: contact.version });
        p.print(`Deleted entry for ${contact.name}.`);
        return;
      } catch (error) {
        if (!(error instanceof RemoteError)) throw error;
        if (error.reason === "NOT_FOUND") {
          p.print(`Someone else has already deleted ${contact.name}.`);
          return;
        }
        if (error.reason !== "CONFLICT") throw error;
        contact = error.data.current as Contact;
        p.print(`Someone else changed ${contact.name} meanwhile; it now reads:`);
      }
    }
  }

  async edit(): Promise<void> {
    const p = this.#p;
    const chosen = await this.#choose("edit");
    if (chosen === null) return;
    let base = chosen;
    p.print();
    this.#showing([base]);
    p.print(formatCard(base));
    let draft = await this.#editFields(userFields(base));
    while (true) {
      if (sameFields(draft, base)) {
        p.print("No changes.");
        return;
      }
      try {
        const saved = await this.#call<Contact>("update", {
          id: base.id,
          version: base.version,
          contact: draft,
        });
        p.print();
        p.print(formatCard(saved));
        p.print(`Saved ${saved.name}.`);
        return;
      } catch (error) {
        if (!(error instanceof RemoteError)) throw error;
        if (error.reason === "NOT_FOUND") {
          p.print(`Someone else deleted ${base.name} while you were editing it.`);
          if (await this.#yes("Add your version as a new entry? [y/N]: ")) {
            const added = await this.#call<Contact>("add", { contact: draft });
            p.print(`Added entry for ${added.name}.`);
          }
          return;
        }
        if (error.reason !== "CONFLICT") throw error;
        const current = error.data.current as Contact;
        const differences = formatDifferences(draft, current, ["Yours", "Theirs (saved now)"]);
        if (differences === "") {
          p.print(`Someone else made the same changes to ${current.name} meanwhile.`);
          return;
        }
        p.print(`Someone else changed ${current.name} while you were editing it:`);
        p.print(differences);
        const choice = await this.#resolveConflict();
        base = current;
        if (choice === "theirs") {
          p.print(`Kept their version of ${current.name}.`);
          return;
        }
        if (choice === "re-edit") {
          p.print(`Editing their version of ${current.name}.`);
          draft = await this.#editFields(userFields(current));
        }
        // "mine": save the draft over their version.
      }
    }
  }

  async #resolveConflict(): Promise<"mine" | "theirs" | "re-edit"> {
    while (true) {
      const answer = (await this.#ask("Keep [m]ine, [t]heirs, or [r]e-edit theirs? [m/t/r]: "))
        .toLowerCase();
      if (answer === "m" || answer === "mine") return "mine";
      if (answer === "t" || answer === "theirs") return "theirs";
      if (answer === "r" || answer === "re-edit") return "re-edit";
      this.#p.print(
        `Invalid choice ${JSON.stringify(answer)}: m keeps yours, t keeps theirs, ` +
          "r edits theirs again.",
      );
    }
  }

  /** Asks for every field, showing its value; Enter keeps it, `-` clears it. */
  async #editFields(fields: ContactFields): Promise<ContactFields> {
    this.#p.print("Press Enter to keep a value, or type - to clear it. For phones, emails, web");
    this.#p.print("addresses and groups, type the whole list: mobile: 555-0123, work: 555-0199.");
    let draft = fields;
    for (const [field, label] of FIELD_LABELS) {
      const shown = fieldText(draft, field).replaceAll("\n", " / ");
      draft = await this.#askField(draft, field, shown ? `${label} [${shown}]: ` : `${label}: `, {
        editing: true,
        required: field === "name",
      });
    }
    return draft;
  }
}
