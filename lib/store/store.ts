/**
 * The contact store on Deno KV: {@link ContactStore}. The key layout is in `keys.ts`, the
 * change log in `change_log.ts`, the layout migrations and the consistency check in
 * `maintenance.ts`, paging and cursors in `paging.ts`, the errors in `errors.ts`.
 *
 * Every write checks the record's versionstamp and sets or deletes the record and all of its
 * index entries in one `kv.atomic()`, so an index never disagrees with its record, even if
 * the process is killed mid-write. Concurrent writes share an atomic (group commit, see
 * `group_commit.ts`); each caller returns only after the atomic holding its write commits.
 * Each write also logs its change in that atomic (see `change_log.ts`).
 *
 * Live changes: with a view (one process owns the store), each committed change is
 * published to {@link ContactStore.changes} right after its commit, in commit (seq) order.
 * Without one (a KV Connect URL, which other servers may write), a `LogTail`
 * (`change_log.ts`) reads the log as its head moves and publishes its entries, so every
 * server sees every server's changes, in seq order.
 *
 * Reads of a file or `:memory:` store are served from a write-through in-memory view
 * (`contact_view.ts`), filled from KV at open and updated as each write commits, in commit
 * order: it stays exact because one server process owns the file and every write goes
 * through this class. A KV Connect URL, which other servers may write, gets no view.
 * Contacts returned from the view are frozen: copy one before changing it.
 *
 * @module
 */

import { type ChangeEvent, ChangeFeed, type ChangeType } from "./change_feed.ts";
import type { Contact, ContactFields, StoredContact } from "../model/contact.ts";
import { ContactView } from "./contact_view.ts";
import { GroupCommitter, type Write } from "./group_commit.ts";
import { newId } from "../model/ids.ts";
import { type CheckReport, MAX_PAGE, type Page } from "../protocol/api.ts";
import { contactTerms, fold, parseQuery } from "../model/search_terms.ts";
import {
  CHANGE_LOG_LIMITS,
  type ChangeLogLimits,
  changesAfter,
  logged,
  type LoggedChange,
  logStart,
  LogTail,
  readHead,
  trimLog,
  unionTerms,
} from "./change_log.ts";
import { AmbiguousError, conflict, isDiskFull, NotFoundError, StorageFullError } from "./errors.ts";
import {
  changeKey,
  contactKey,
  CONTACTS,
  COUNT_KEY,
  HEAD_KEY,
  indexDeletes,
  indexedId,
  indexSets,
  nameKey,
  namePrefix,
  nameSortKey,
  phoneRange,
  wordRange,
} from "./keys.ts";
import {
  check,
  type CheckOptions,
  prepareLayout,
  rebuildIndexes,
  storedCount,
} from "./maintenance.ts";
import {
  compareKeys,
  decodeCursor,
  encodeCursor,
  page,
  pageLimit,
  type PageOptions,
} from "./paging.ts";

/** Options of {@link ContactStore.open}. */
export interface StoreOptions {
  /** False: no in-memory view (for a store another process may write). Default true. */
  view?: boolean;
  /** Change-log limits (tests shrink them). */
  changeLog?: Partial<ChangeLogLimits>;
  /** Told of a repair made at open: an interrupted index rebuild being finished. */
  warn?: (message: string) => void;
}

/**
 * Contacts in a Deno KV database: a file path, `:memory:`, or a KV Connect URL.
 *
 * @example Add and find a contact in memory
 * ```ts
 * import { ContactStore } from "./store.ts";
 * import { validateContact } from "../model/contact.ts";
 * await using store = await ContactStore.open(":memory:");
 * const bob = await store.add(validateContact({ name: "Bob", town: "Springfield" }));
 * const page = await store.find("bob");
 * if (page.contacts[0]?.id !== bob.id) throw new Error();
 * ```
 */
export class ContactStore {
  readonly #kv: Deno.Kv;
  #closed = false;
  readonly #commits: GroupCommitter;
  /** Undefined for a store that other processes may write (a KV Connect URL). */
  readonly #view: ContactView | undefined;
  /** The layout the store had when opened (before any migration). */
  readonly openedLayout: number;
  /**
   * Committed changes, live, in seq order: published right after each commit when this
   * process owns the store, or read from the log as other servers append to it.
   */
  readonly changes: ChangeFeed;
  readonly #limits: ChangeLogLimits;
  #sinceTrim = 0;
  #trimming: Promise<void> | undefined;
  /** Reads the log as other servers append to it; only without a view. */
  readonly #tail: LogTail | undefined;

  private constructor(
    kv: Deno.Kv,
    openedLayout: number,
    view: ContactView | undefined,
    commits: GroupCommitter,
    head: number,
    limits: ChangeLogLimits,
  ) {
    this.#kv = kv;
    this.openedLayout = openedLayout;
    this.#view = view;
    this.#commits = commits;
    this.#limits = limits;
    this.changes = new ChangeFeed(head);
    if (view === undefined) this.#tail = new LogTail(kv, this.changes);
  }

  /** Whether reads are served from the in-memory view (a file or `:memory:` store). */
  get cached(): boolean {
    return this.#view !== undefined;
  }

  /** Group-commit figures: batches committed, writes in them, writes retried alone. */
  get commitStats(): { batches: number; writes: number; retried: number } {
    return { ...this.#commits.stats };
  }

  /**
   * Opens the store at `path`, creating it if needed, and migrates an older layout. Reads
   * come from an in-memory view unless `path` is a KV Connect URL or `options.view` is false
   * (for tools that read a store another process owns).
   * Throws `LayoutError` for a layout newer than this code understands.
   */
  static async open(path: string, options: StoreOptions = {}): Promise<ContactStore> {
    const kv = await Deno.openKv(path);
    try {
      const layout = await prepareLayout(kv, path, { warn: options.warn });
      const view = storeKind(path) === "remote" || options.view === false
        ? undefined
        : await loadView(kv);
      const commits = new GroupCommitter(kv, {
        counterKey: COUNT_KEY,
        commit: commitRetrying,
        log: { headKey: HEAD_KEY, entryKey: changeKey, shared: view === undefined },
      });
      const head = await commits.readHead();
      const store = new ContactStore(kv, layout, view, commits, head, {
        ...CHANGE_LOG_LIMITS,
        ...options.changeLog,
      });
      await store.trimChanges();
      return store;
    } catch (error) {
      kv.close();
      throw error;
    }
  }

  /** Closes the database (ending every subscription); closing again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.changes.close();
    this.#tail?.close();
    this.#kv.close();
  }

  /** Waits for a trim or log read under way, then closes. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#tail?.cancel();
    await this.#tail?.settled();
    await this.#trimming;
    this.close();
  }

  /**
   * The seq of the last change committed: kept by this process when it owns the store,
   * read from KV otherwise.
   */
  async changeHead(): Promise<number> {
    if (this.#view && this.#commits.head !== undefined) return this.#commits.head;
    return await readHead(this.#kv);
  }

  /**
   * The oldest `since` the log can serve: the seq just before its first entry (the head
   * when the log is empty). Every change after it is still in the log.
   */
  async changeLogStart(): Promise<number> {
    return (await logStart(this.#kv)) ?? await this.changeHead();
  }

  /**
   * At most `limit` logged changes after seq `after`, in seq order. The first has seq
   * `after + 1` unless the log no longer holds it (trimmed): check before relying on it.
   */
  async changesAfter(after: number, limit: number): Promise<ChangeEvent[]> {
    return await changesAfter(this.#kv, after, limit);
  }

  /**
   * Deletes the oldest log entries beyond the limits: at most `trimBatch`, in one atomic.
   * Returns how many it deleted.
   */
  async trimChanges(): Promise<number> {
    return await trimLog(this.#kv, this.#limits, await this.changeHead());
  }

  /** Counts a logged change; every `trimEvery`, trims the log in the background. */
  #logged(): void {
    if (++this.#sinceTrim < this.#limits.trimEvery || this.#trimming || this.#closed) return;
    this.#sinceTrim = 0;
    this.#trimming = this.trimChanges().then(() => {}, () => {}).finally(() => {
      this.#trimming = undefined;
    });
  }

  /** Publishes a change this process committed (when it owns the store). */
  #publish(type: ChangeType, entry: LoggedChange, version: string, seq: number | undefined): void {
    this.#logged();
    if (this.#view === undefined || seq === undefined) return;
    const { id, name, terms } = entry;
    this.changes.publish({ type, id, name, terms, version, seq });
  }

  /**
   * Adds a new contact and returns it as stored. `id` (restoring a backup) gives it that id
   * instead of a new one; if a contact already has it, `ConflictError` with that one.
   */
  async add(fields: ContactFields, id?: string): Promise<Contact> {
    const now = new Date().toISOString();
    const stored: StoredContact = { id: id ?? newId(), ...fields, created: now, updated: now };
    const key = contactKey(stored.id);
    const name = fold(stored.name), terms = contactTerms(stored);
    let held: Contact | undefined;
    const logEntry = logged("added", stored, now, terms);
    const result = await this.#commits.submit({
      group: stored.id,
      checks: [{ key, versionstamp: null }],
      mutations: [
        { type: "set", key, value: stored },
        ...indexSets(stored.id, name, terms),
      ],
      countDelta: 1,
      logEntry,
      onCommit: (versionstamp, seq) => {
        held = this.#view?.put(stored, versionstamp, name, terms);
        this.#publish("added", logEntry, versionstamp, seq);
      },
    });
    if (!result.ok) {
      const taken = id === undefined ? null : await this.#current(id);
      if (taken !== null) throw conflict(taken);
      throw new Error(`Contact id ${stored.id} is already taken`);
    }
    return held ?? { ...stored, version: result.versionstamp };
  }

  /** The contact with this id; throws {@link NotFoundError}. */
  async get(id: string): Promise<Contact> {
    if (this.#view) return this.getNow(id);
    const contact = await this.#current(id);
    if (contact === null) throw new NotFoundError(`No contact has id ${JSON.stringify(id)}`);
    return contact;
  }

  /**
   * {@link get} answered from the in-memory view at once; only for a store that is
   * {@link cached} (throws otherwise).
   *
   * @example
   * ```ts
   * import { ContactStore } from "./store.ts";
   * import { blankContact } from "../model/contact.ts";
   * await using store = await ContactStore.open(":memory:");
   * const bob = await store.add(blankContact("Bob"));
   * if (store.getNow(bob.id).version !== bob.version) throw new Error();
   * ```
   */
  getNow(id: string): Contact {
    const contact = this.#cachedView().get(id);
    if (contact === undefined) throw new NotFoundError(`No contact has id ${JSON.stringify(id)}`);
    return contact;
  }

  /**
   * Replaces a contact's user fields, if `version` is still current. Throws
   * {@link NotFoundError}, or `ConflictError` with the current contact.
   */
  async update(id: string, version: string, fields: ContactFields): Promise<Contact> {
    const key = contactKey(id);
    const old = await this.#current(id);
    if (old === null) throw new NotFoundError(`No contact has id ${JSON.stringify(id)}`);
    if (old.version !== version) throw conflict(old);
    const stored: StoredContact = {
      id,
      ...fields,
      created: old.created,
      updated: new Date().toISOString(),
    };
    const oldName = fold(old.name), newName = fold(stored.name);
    const oldTerms = contactTerms(old), newTerms = contactTerms(stored);
    let held: Contact | undefined;
    const logEntry = logged("updated", stored, stored.updated, unionTerms(oldTerms, newTerms));
    const result = await this.#commits.submit({
      group: id,
      checks: [{ key, versionstamp: version }],
      mutations: [
        { type: "set", key, value: stored },
        ...indexDeletes(id, oldName, oldTerms, { name: newName, terms: newTerms }),
        ...indexSets(id, newName, newTerms),
      ],
      logEntry,
      onCommit: (versionstamp, seq) => {
        held = this.#view?.put(stored, versionstamp, newName, newTerms);
        this.#publish("updated", logEntry, versionstamp, seq);
      },
    });
    if (!result.ok) throw await this.#conflictNow(id);
    return held ?? { ...stored, version: result.versionstamp };
  }

  /**
   * Removes a contact by id. With `version`, only if it is still current
   * (`ConflictError` otherwise). Returns the removed contact.
   */
  async remove(id: string, version?: string): Promise<Contact> {
    const key = contactKey(id);
    for (let attempt = 0;; attempt++) {
      const current = await this.#current(id);
      if (current === null) {
        throw new NotFoundError(`No contact has id ${JSON.stringify(id)}`);
      }
      if (version !== undefined && current.version !== version) throw conflict(current);
      const terms = contactTerms(current);
      const logEntry = logged("removed", current, new Date().toISOString(), terms);
      const write: Write = {
        group: id,
        checks: [{ key, versionstamp: current.version }],
        mutations: [
          { type: "delete", key },
          ...indexDeletes(id, fold(current.name), terms),
        ],
        countDelta: -1,
        logEntry,
        onCommit: (versionstamp, seq) => {
          this.#view?.delete(id);
          this.#publish("removed", logEntry, versionstamp, seq);
        },
      };
      const result = await this.#commits.submit(write);
      if (result.ok) return current;
      // Changed meanwhile: without a version the caller wants it gone whatever it became.
      if (version !== undefined || attempt >= 5) throw await this.#conflictNow(id);
    }
  }

  /**
   * Removes the one contact with this name (case-insensitive). Throws
   * {@link NotFoundError} if none has it, {@link AmbiguousError} if several do.
   */
  async removeByName(name: string): Promise<Contact> {
    const matches = await this.find(name, { limit: MAX_PAGE });
    const [only, second] = matches.contacts;
    if (only === undefined) {
      throw new NotFoundError(`No contact is named ${JSON.stringify(name)}`);
    }
    if (second !== undefined) {
      const candidates = matches.contacts.map(({ id, name, town }) => ({ id, name, town }));
      throw new AmbiguousError(
        `${candidates.length}${matches.cursor ? "+" : ""} contacts are named ` +
          `${JSON.stringify(name)}; remove one by id`,
        candidates,
      );
    }
    return await this.remove(only.id);
  }

  /** Contacts whose name equals `name`, ignoring case and accents, sorted by id. */
  async find(name: string, options: PageOptions = {}): Promise<Page> {
    if (this.#view) return this.findNow(name, options);
    const folded = fold(name);
    if (folded === "") return { contacts: [], cursor: null };
    return await this.#pageOfName(folded, options);
  }

  /**
   * {@link find} answered from the in-memory view at once; only for a store that is
   * {@link cached} (throws otherwise).
   *
   * @example
   * ```ts
   * import { ContactStore } from "./store.ts";
   * import { blankContact } from "../model/contact.ts";
   * await using store = await ContactStore.open(":memory:");
   * await store.add(blankContact("Bob"));
   * if (store.findNow("BOB").contacts.length !== 1) throw new Error();
   * ```
   */
  findNow(name: string, options: PageOptions = {}): Page {
    const view = this.#cachedView();
    const folded = fold(name);
    if (folded === "") return { contacts: [], cursor: null };
    const limit = pageLimit(options.limit);
    const after = decodeCursor(options.cursor);
    if (after !== null && after[0] !== folded) {
      throw new RangeError("Cursor does not belong to this query");
    }
    if (after === null) {
      const kept = view.firstPage(folded, limit);
      if (kept !== undefined) return kept as Page;
    }
    const { ids, more } = view.find(folded, after?.[1] ?? null, limit);
    const contacts = this.#fromView(ids);
    const last = contacts.at(-1);
    const result = page(contacts, more && last ? encodeCursor([folded, last.id]) : null);
    if (after === null) {
      // Asked again and again for the same names: kept, frozen, until a write touches the name.
      Object.freeze(result.contacts);
      view.keepFirstPage(folded, limit, Object.freeze(result));
    }
    return result;
  }

  /** Every contact, sorted by name. */
  async list(options: PageOptions = {}): Promise<Page> {
    return await this.#pageOfName(undefined, options);
  }

  /**
   * Contacts matching a query: every word prefix-matches a word of the name, town, street
   * or an email; or, for a query that looks like a phone number, its digits prefix-match a
   * phone's digits. Sorted by name. Reads index entries only (the view's own indexes when
   * there is a view, which give the same pages and cursors).
   */
  async search(query: string, options: PageOptions = {}): Promise<Page> {
    if (this.#view) return this.searchNow(query, options);
    const parsed = parseQuery(query);
    const limit = pageLimit(options.limit);
    const after = decodeCursor(options.cursor);
    let matches: Map<string, string> | undefined;
    for (const word of parsed.words.toSorted((a, b) => b.length - a.length)) {
      const found = await this.#idsIn(wordRange(word), matches);
      matches = found;
      if (matches.size === 0) break;
    }
    matches ??= new Map();
    if (parsed.phone) {
      for (const [id, sortKey] of await this.#idsIn(phoneRange(parsed.phone))) {
        matches.set(id, sortKey);
      }
    }
    const sorted = [...matches].map(([id, name]) => [name, id] as [string, string])
      .filter((key) => after === null || compareKeys(key, after) > 0)
      .sort(compareKeys);
    const pageKeys = sorted.slice(0, limit);
    const contacts = await this.#getMany(pageKeys.map(([, id]) => id));
    const last = pageKeys.at(-1);
    return page(contacts, sorted.length > limit && last ? encodeCursor(last) : null);
  }

  /**
   * {@link search} answered from the in-memory view at once; only for a store that is
   * {@link cached} (throws otherwise).
   *
   * @example
   * ```ts
   * import { ContactStore } from "./store.ts";
   * import { blankContact } from "../model/contact.ts";
   * await using store = await ContactStore.open(":memory:");
   * await store.add({ ...blankContact("Bob Smith"), town: "Leeds" });
   * if (store.searchNow("smi lee").contacts.length !== 1) throw new Error();
   * ```
   */
  searchNow(query: string, options: PageOptions = {}): Page {
    const view = this.#cachedView();
    const parsed = parseQuery(query);
    const limit = pageLimit(options.limit);
    const after = decodeCursor(options.cursor);
    const { keys, more } = view.search(parsed, after, limit);
    const last = keys.at(-1);
    return page(
      this.#fromView(keys.map(([, id]) => id)),
      more && last ? encodeCursor(last) : null,
    );
  }

  /** The number of contacts. */
  async count(): Promise<number> {
    if (this.#view) return this.#view.size;
    return await storedCount(this.#kv);
  }

  /**
   * Every contact in id order (creation order), a page at a time, for backups. Pages are not
   * one snapshot: a contact that exists for the whole export appears exactly once, as it was
   * when its page was read; one added meanwhile appears if its id sorts after the cursor (ids
   * grow with time, so it usually does); one removed before its page is read does not.
   */
  async export(options: PageOptions = {}): Promise<Page> {
    const limit = pageLimit(options.limit);
    const after = decodeCursor(options.cursor);
    if (after !== null && after[0] !== "export") {
      throw new RangeError("Cursor does not belong to an export");
    }
    const selector = after === null
      ? { prefix: CONTACTS }
      : { prefix: CONTACTS, start: contactKey(after[1]) };
    const contacts: Contact[] = [];
    let more = false;
    for await (const entry of this.#kv.list<StoredContact>(selector, { limit: limit + 2 })) {
      if (after !== null && entry.value.id === after[1]) continue;
      if (contacts.length === limit) {
        more = true;
        break;
      }
      contacts.push({ ...entry.value, version: entry.versionstamp });
    }
    const last = contacts.at(-1);
    return { contacts, cursor: more && last ? encodeCursor(["export", last.id]) : null };
  }

  /**
   * Verifies that every index entry agrees with its record and the count with the records.
   * Each problem found is confirmed with one consistent read before it is reported, so a
   * write racing the check is not mistaken for damage. Once `options.signal` is aborted it
   * stops, throwing the signal's reason.
   */
  async check(options: CheckOptions = {}): Promise<CheckReport> {
    return await check(this.#kv, options);
  }

  /**
   * Rebuilds every index entry and the count from the records (the records are the truth).
   * For a store no other process is writing: run it before serving.
   */
  async rebuildIndexes(): Promise<void> {
    await rebuildIndexes(this.#kv);
  }

  /** Ids (with their sort keys) of the index entries in `range`, kept only if in `within`. */
  async #idsIn(
    range: { start: Deno.KvKey; end: Deno.KvKey },
    within?: Map<string, string>,
  ): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for await (const entry of this.#kv.list<string>(range, { batchSize: 1000 })) {
      const id = indexedId(entry.key);
      if (within === undefined || within.has(id)) out.set(id, entry.value);
    }
    return out;
  }

  /** A page of the name index: all of it, sorted by name, or one folded name's, by id. */
  async #pageOfName(folded: string | undefined, options: PageOptions): Promise<Page> {
    const limit = pageLimit(options.limit);
    const after = decodeCursor(options.cursor);
    if (after !== null && folded !== undefined && after[0] !== folded) {
      throw new RangeError("Cursor does not belong to this query");
    }
    const prefix = namePrefix(folded);
    const selector = after === null ? { prefix } : { prefix, start: nameKey(...after) };
    const keys: Array<[string, string]> = [];
    for await (const entry of this.#kv.list(selector, { limit: limit + 2 })) {
      const key = nameSortKey(entry.key);
      if (after !== null && compareKeys(key, after) <= 0) continue;
      keys.push(key);
      if (keys.length > limit) break;
    }
    const pageKeys = keys.slice(0, limit);
    const contacts = await this.#getMany(pageKeys.map(([, id]) => id));
    const last = pageKeys.at(-1);
    return page(contacts, keys.length > limit && last ? encodeCursor(last) : null);
  }

  /**
   * {@link count} from the in-memory view at once; only for a store that is {@link cached}
   * (throws otherwise).
   *
   * @example
   * ```ts
   * import { ContactStore } from "./store.ts";
   * await using store = await ContactStore.open(":memory:");
   * if (store.countNow() !== 0) throw new Error();
   * ```
   */
  countNow(): number {
    return this.#cachedView().size;
  }

  #cachedView(): ContactView {
    if (this.#view === undefined) {
      throw new Error("This store has no in-memory view (cached is false); use the async read");
    }
    return this.#view;
  }

  /** The contact as stored now (from the view when there is one), or null. */
  async #current(id: string): Promise<Contact | null> {
    if (this.#view) return this.#view.get(id) ?? null;
    const entry = await this.#kv.get<StoredContact>(contactKey(id));
    return entry.value === null ? null : { ...entry.value, version: entry.versionstamp };
  }

  /** The view's contacts with these ids, in this order, skipping any not there. */
  #fromView(ids: string[]): Contact[] {
    const contacts: Contact[] = [];
    for (const id of ids) {
      const contact = this.#view!.get(id);
      if (contact !== undefined) contacts.push(contact);
    }
    return contacts;
  }

  /** The contacts with these ids, in this order, skipping any removed meanwhile. */
  async #getMany(ids: string[]): Promise<Contact[]> {
    if (this.#view) return this.#fromView(ids);
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += 10) chunks.push(ids.slice(i, i + 10));
    const results = await Promise.all(
      chunks.map((chunk) => this.#kv.getMany<StoredContact[]>(chunk.map((id) => contactKey(id)))),
    );
    const contacts: Contact[] = [];
    for (const entry of results.flat()) {
      if (entry.value !== null) contacts.push({ ...entry.value, version: entry.versionstamp });
    }
    return contacts;
  }

  /** The error for a failed check: a conflict with what is stored now, or not found. */
  async #conflictNow(id: string): Promise<Error> {
    const current = await this.#current(id);
    if (current === null) {
      return new NotFoundError(`Contact ${JSON.stringify(id)} was removed by someone else`);
    }
    return conflict(current);
  }
}

/**
 * What a `--db` value names: `:memory:`, a KV Connect URL (`http://` or `https://`, any
 * case), or else a file path. The one answer to "is this store remote?" for every caller.
 *
 * @example
 * ```ts
 * import { storeKind } from "./store.ts";
 * if (storeKind("HTTPS://kv.example/db") !== "remote") throw new Error();
 * if (storeKind("data/addressbook.db") !== "file" || storeKind(":memory:") !== "memory") {
 *   throw new Error();
 * }
 * ```
 */
export function storeKind(path: string): "memory" | "remote" | "file" {
  if (path === ":memory:") return "memory";
  return /^https?:\/\//i.test(path) ? "remote" : "file";
}

/** Builds the view from every record in KV. */
async function loadView(kv: Deno.Kv): Promise<ContactView> {
  const view = new ContactView();
  for await (const entry of kv.list<StoredContact>({ prefix: CONTACTS }, { batchSize: 1000 })) {
    view.put(entry.value, entry.versionstamp);
  }
  return view;
}

/**
 * Commits a checked write, retrying a few times (about 1.5 s in all) while the database is
 * locked by another process: a commit that failed that way did not apply, and the write's
 * check makes a second apply impossible. A full disk is a {@link StorageFullError} (the
 * commit did not apply either); other errors are thrown at once.
 */
async function commitRetrying(
  op: Deno.AtomicOperation,
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  for (let attempt = 0;; attempt++) {
    try {
      return await op.commit();
    } catch (error) {
      if (isDiskFull(error)) throw new StorageFullError({ cause: error });
      const locked = error instanceof Error && /database is locked|busy/i.test(error.message);
      if (!locked || attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
    }
  }
}
