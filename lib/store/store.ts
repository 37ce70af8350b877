/**
 * The contact store on Deno KV: {@link ContactStore}. The key layout is in `keys.ts`, the
 * change log in `change_log.ts`, the layout migrations and the consistency check in
 * `maintenance.ts`, paging and cursors in `paging.ts`, the errors in `errors.ts`.
 *
 * Every write checks the record's versionstamp and sets or deletes the record, sums the
 * count and logs its change (see `change_log.ts`) in one `kv.atomic()`, so a change is
 * logged if and only if it was stored, even if the process is killed mid-write. Concurrent
 * writes share an atomic (group commit, see `group_commit.ts`); each caller returns only
 * after the atomic holding its write commits.
 *
 * Every read is served from the in-memory view (`contact_view.ts`), the one read path of
 * every store: built from the records at open, in one pass, and updated by this process's
 * own writes as each commits, in commit order (so a process reads its own writes). A store
 * that other processes write too ({@link StoreOptions.shared}: a KV Connect URL, which
 * other servers share) also follows their changes: a `LogTail` (`change_log.ts`) reads the
 * change log after the last seq it applied, and for each change made elsewhere reads the
 * record (or its absence) and puts it in the view (or deletes it), in log order; its writes
 * then check versions against KV, not the view. Contacts returned from the view are frozen:
 * copy one before changing it.
 *
 * Live changes: for a store this process alone writes, each committed change is published
 * to {@link ContactStore.changes} right after its commit, in commit (seq) order; for a
 * shared one, the `LogTail` publishes every change (its own included) as it applies them,
 * so every server sees every server's changes, in seq order.
 *
 * @module
 */

import { type ChangeEvent, ChangeFeed, type ChangeType } from "./change_feed.ts";
import {
  type Contact,
  type ContactFields,
  fillMissingFields,
  type StoredContact,
} from "../model/contact.ts";
import { ContactView, type ViewContact, type ViewPage } from "./contact_view.ts";
import { GroupCommitter, type Write } from "./group_commit.ts";
import { newId } from "../model/ids.ts";
import { type CheckReport, MAX_PAGE, type Page } from "../protocol/api.ts";
import { contactTerms, fold, parseQuery, type Terms } from "../model/search_terms.ts";
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
import { changeKey, contactKey, CONTACTS, COUNT_KEY, EPOCH_KEY, HEAD_KEY } from "./keys.ts";
import { check, type CheckOptions, prepareLayout, rebuildIndexes } from "./maintenance.ts";
import { decodeCursor, encodeCursor, pageLimit, type PageOptions, textPage } from "./paging.ts";

/** Options of {@link ContactStore.open}. */
export interface StoreOptions {
  /**
   * True: other processes may write this store too, so its view follows their changes
   * through the change log (read after every move of its head, and every `pollMs`) and its
   * writes check versions against KV. Default: true for a KV Connect URL, false otherwise
   * (one server process owns a file: the data folder's lock). Tests open a file this way to
   * run the code that serves a KV Connect store.
   */
  shared?: boolean;
  /**
   * False: the same as `shared: true` (its older spelling, from when such a store had no
   * view): for a tool that reads a store another process owns.
   */
  view?: boolean;
  /** How often a shared store reads the log besides waking on `kv.watch` (ms, default 1000). */
  pollMs?: number;
  /** Change-log limits (tests shrink them). */
  changeLog?: Partial<ChangeLogLimits>;
  /** Told of a repair made at open: an interrupted repair being finished. */
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
  readonly #view: ContactView;
  #epoch = "";
  /** Whether other processes write this store too (see {@link StoreOptions.shared}). */
  readonly #shared: boolean;
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
  /** Reads the log as other processes append to it; only for a shared store. */
  readonly #tail: LogTail | undefined;
  /** Shared: the seqs of this process's own changes that the tail has not passed yet. */
  readonly #ownSeqs = new Set<number>();
  /**
   * Shared: contacts this process removed that the tail has not passed yet, with the
   * removal's version and seq, so that a read made before the removal does not put them back.
   */
  readonly #ownRemoved = new Map<string, { version: string; seq: number }>();

  private constructor(
    kv: Deno.Kv,
    openedLayout: number,
    view: ContactView,
    commits: GroupCommitter,
    head: number,
    limits: ChangeLogLimits,
    shared: { pollMs: number } | undefined,
  ) {
    this.#kv = kv;
    this.openedLayout = openedLayout;
    this.#view = view;
    this.#commits = commits;
    this.#limits = limits;
    this.#shared = shared !== undefined;
    this.changes = new ChangeFeed(head);
    if (shared !== undefined) {
      this.#tail = new LogTail(kv, this.changes, head, {
        apply: (events) => this.#applyLogged(events),
        resync: () => this.#resync(),
        pollMs: shared.pollMs,
      });
    }
  }

  /**
   * Whether reads are answered from the in-memory view at once (the `...Now` methods): true
   * for every store since layout 4 (kept for callers that ask).
   */
  get cached(): boolean {
    return true;
  }

  /** Whether other processes write this store too (see {@link StoreOptions.shared}). */
  get shared(): boolean {
    return this.#shared;
  }

  /**
   * Resolves once the view has applied every change committed before the call: at once for
   * a store this process alone writes (its commits reach the view as they commit); after
   * reading the change log for a shared one.
   */
  async catchUp(): Promise<void> {
    if (this.#tail) await this.#tail.catchUp();
  }

  /**
   * The store's epoch: a random id made when the store was first opened and kept in it, so
   * a sync token (which names it) from another store is never read against this one. A
   * store made by a restore (an import into a new data folder) has a new one; a KV file
   * copied back keeps its own.
   */
  get epoch(): string {
    return this.#epoch;
  }

  /** Group-commit figures: batches committed, writes in them, writes retried alone. */
  get commitStats(): { batches: number; writes: number; retried: number } {
    return { ...this.#commits.stats };
  }

  /**
   * Opens the store at `path`, creating it if needed, migrates an older layout, and builds
   * the view from the records. A KV Connect URL (or `options.shared`) is opened shared:
   * see {@link StoreOptions.shared}. Throws `LayoutError` for a layout newer than this code
   * understands.
   */
  static async open(path: string, options: StoreOptions = {}): Promise<ContactStore> {
    const kv = await Deno.openKv(path);
    try {
      const layout = await prepareLayout(kv, path, { warn: options.warn });
      const shared = options.shared ?? (storeKind(path) === "remote" || options.view === false);
      const commits = new GroupCommitter(kv, {
        counterKey: COUNT_KEY,
        commit: commitRetrying,
        log: { headKey: HEAD_KEY, entryKey: changeKey, shared },
      });
      // The head before the records: a change logged meanwhile is read again by the tail.
      const head = await commits.readHead();
      const view = await loadView(kv);
      const limits = { ...CHANGE_LOG_LIMITS, ...options.changeLog };
      const tail = shared ? { pollMs: options.pollMs ?? 1000 } : undefined;
      const store = new ContactStore(kv, layout, view, commits, head, limits, tail);
      store.#epoch = await readEpoch(kv);
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
    if (!this.#shared && this.#commits.head !== undefined) return this.#commits.head;
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

  /**
   * Publishes a change this process committed (when it owns the store; for a shared one the
   * tail publishes it, in seq order with the others', and skips it when applying).
   */
  #publish(type: ChangeType, entry: LoggedChange, version: string, seq: number | undefined): void {
    this.#logged();
    if (seq === undefined) return;
    if (this.#tail !== undefined) {
      if (seq > this.#tail.applied) this.#ownSeqs.add(seq);
      return;
    }
    const { id, name, terms } = entry;
    this.changes.publish({ type, id, name, terms, version, seq });
  }

  /**
   * Puts a contact this process committed at `version` in the view, unless it holds a newer
   * one already (a shared store's tail may have read another process's later write first).
   */
  #putOwn(stored: StoredContact, version: string, folded: string, terms: Terms): ViewContact {
    const held = this.#view.version(stored.id);
    if (held !== undefined && held > version) return this.#view.get(stored.id)!;
    return this.#view.put(stored, version, folded, terms);
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
      // A backup's id may be taken; a new one (a ULID, monotonic in this process, 80 random
      // bits across processes) is not, and without a check the add leaves KV's 100 checks of
      // one atomic to others: a group commit takes up to 400 adds instead of 100.
      checks: id === undefined ? [] : [{ key, versionstamp: null }],
      mutations: [{ type: "set", key, value: stored }],
      countDelta: 1,
      logEntry,
      onCommit: (versionstamp, seq) => {
        const kept = this.#putOwn(stored, versionstamp, name, terms);
        if (kept.version === versionstamp) held = kept;
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
  // deno-lint-ignore require-await
  async get(id: string): Promise<Contact> {
    return this.getNow(id);
  }

  /**
   * {@link get} answered from the in-memory view at once.
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
    const contact = this.#view.get(id);
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
    const newName = fold(stored.name);
    const oldTerms = contactTerms(old), newTerms = contactTerms(stored);
    let held: Contact | undefined;
    const logEntry = logged("updated", stored, stored.updated, unionTerms(oldTerms, newTerms));
    const result = await this.#commits.submit({
      group: id,
      checks: [{ key, versionstamp: version }],
      mutations: [{ type: "set", key, value: stored }],
      logEntry,
      onCommit: (versionstamp, seq) => {
        const kept = this.#putOwn(stored, versionstamp, newName, newTerms);
        if (kept.version === versionstamp) held = kept;
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
        mutations: [{ type: "delete", key }],
        countDelta: -1,
        logEntry,
        onCommit: (versionstamp, seq) => {
          const held = this.#view.version(id);
          if (held === undefined || held < versionstamp) this.#view.delete(id);
          if (this.#tail !== undefined && seq !== undefined && seq > this.#tail.applied) {
            this.#ownRemoved.set(id, { version: versionstamp, seq });
          }
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
  // deno-lint-ignore require-await
  async find(name: string, options: PageOptions = {}): Promise<Page> {
    return this.findNow(name, options);
  }

  /**
   * {@link find} answered from the in-memory view at once.
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
    const view = this.#view;
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
    const result = viewPage(view.find(folded, after?.[1] ?? null, limit));
    if (after === null) {
      // Asked again and again for the same names: kept, frozen, until a write touches the name.
      Object.freeze(result.contacts);
      view.keepFirstPage(folded, limit, Object.freeze(result));
      // (Its contacts are parsed, once, only if something reads them; the array is frozen.)
    }
    return result;
  }

  /** Every contact, sorted by name (folded, then by id). */
  // deno-lint-ignore require-await
  async list(options: PageOptions = {}): Promise<Page> {
    return this.listNow(options);
  }

  /** {@link list} answered from the in-memory view at once. */
  listNow(options: PageOptions = {}): Page {
    const limit = pageLimit(options.limit);
    return viewPage(this.#view.list(decodeCursor(options.cursor), limit));
  }

  /**
   * Contacts matching a query: every word prefix-matches a word of the name, town, street
   * or an email; or, for a query that looks like a phone number, its digits prefix-match a
   * phone's digits. Sorted by name (folded, then by id).
   */
  // deno-lint-ignore require-await
  async search(query: string, options: PageOptions = {}): Promise<Page> {
    return this.searchNow(query, options);
  }

  /**
   * {@link search} answered from the in-memory view at once.
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
    const limit = pageLimit(options.limit);
    const after = decodeCursor(options.cursor);
    return viewPage(this.#view.search(parseQuery(query), after, limit));
  }

  /** The number of contacts. */
  // deno-lint-ignore require-await
  async count(): Promise<number> {
    return this.#view.size;
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
      contacts.push({ ...fillMissingFields(entry.value), version: entry.versionstamp });
    }
    const last = contacts.at(-1);
    return { contacts, cursor: more && last ? encodeCursor(["export", last.id]) : null };
  }

  /**
   * Verifies the store (see `maintenance.ts`'s `check`): every record valid, the live view
   * equal to the view the records imply, the stored count, the change log's head, no stray
   * index rows. Each problem found is confirmed after the view has caught up, so a write
   * racing the check is not mistaken for damage. Once `options.signal` is aborted it stops,
   * throwing the signal's reason.
   */
  async check(options: CheckOptions = {}): Promise<CheckReport> {
    return await check(this.#kv, {
      view: this.#view,
      // Own commits reach the view in the turn they commit (a turn later than KV has them).
      caughtUp: async () => {
        await this.catchUp();
        await new Promise((resolve) => setTimeout(resolve, 0));
      },
    }, options);
  }

  /**
   * Repairs what KV holds besides the records, from the records: sets the count from them
   * and deletes any index rows (which layout 4 no longer writes). For a store no other
   * process is writing: run it before serving. (Named for what it did up to layout 3.)
   */
  async rebuildIndexes(): Promise<void> {
    await rebuildIndexes(this.#kv);
  }

  /**
   * {@link count} from the in-memory view at once.
   *
   * @example
   * ```ts
   * import { ContactStore } from "./store.ts";
   * await using store = await ContactStore.open(":memory:");
   * if (store.countNow() !== 0) throw new Error();
   * ```
   */
  countNow(): number {
    return this.#view.size;
  }

  /**
   * The contact as stored now, or null: from the view when this process alone writes the
   * store (it holds every commit), from KV when others write it too.
   */
  async #current(id: string): Promise<Contact | null> {
    if (!this.#shared) return this.#view.get(id) ?? null;
    const entry = await this.#kv.get<StoredContact>(contactKey(id));
    return entry.value === null
      ? null
      : { ...fillMissingFields(entry.value), version: entry.versionstamp };
  }

  /**
   * Shared: brings the view up to date with logged changes (a batch, in seq order) before
   * the tail publishes them. This process's own were applied at commit; for each of the
   * others the record is read now, and put (or deleted, when it is gone) unless the view
   * holds something newer.
   */
  async #applyLogged(events: ChangeEvent[]): Promise<void> {
    const foreign = events.filter((event) => !this.#ownSeqs.has(event.seq));
    const ids = [...new Set(foreign.map((event) => event.id))];
    const records = new Map<string, Deno.KvEntryMaybe<StoredContact>>();
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += 10) chunks.push(ids.slice(i, i + 10));
    for (const entries of await Promise.all(chunks.map((chunk) => this.#getMany(chunk)))) {
      for (const entry of entries) records.set(entry.key[1] as string, entry);
    }
    for (const event of foreign) this.#follow(event.id, records.get(event.id)!, event.version);
    const last = events.at(-1)?.seq ?? 0;
    for (const seq of this.#ownSeqs) if (seq <= last) this.#ownSeqs.delete(seq);
    for (const [id, removed] of this.#ownRemoved) {
      if (removed.seq <= last) this.#ownRemoved.delete(id);
    }
  }

  /**
   * Shared: the log no longer holds every change since the view was last brought up to date
   * (trimmed meanwhile): every record is read again and followed, and every contact the view
   * holds that has no record now is dropped.
   */
  async #resync(): Promise<void> {
    // Changes committed from here on are newer than this (the head moves with every one).
    const since = (await this.#kv.get(HEAD_KEY)).versionstamp ?? "";
    const seen = new Set<string>();
    for await (
      const entry of this.#kv.list<StoredContact>({ prefix: CONTACTS }, { batchSize: 1000 })
    ) {
      seen.add(entry.value.id);
      this.#follow(entry.value.id, entry, since);
    }
    const gone = [...this.#view.ids()].filter((id) => !seen.has(id));
    for (let i = 0; i < gone.length; i += 10) {
      for (const entry of await this.#getMany(gone.slice(i, i + 10))) {
        this.#follow(entry.key[1] as string, entry, since);
      }
    }
  }

  /**
   * Shared: sets the view's copy of `id` to KV's as read (`entry`), unless the view holds a
   * newer one: put a record newer than the view's (and than a removal of this process made
   * after the read); delete on an absent record unless the view's copy is newer than `at`,
   * the version of the change being applied.
   */
  #follow(id: string, entry: Deno.KvEntryMaybe<StoredContact>, at: string): void {
    const held = this.#view.version(id);
    if (entry.value !== null) {
      const version = entry.versionstamp;
      if (held !== undefined && held >= version) return;
      const removed = this.#ownRemoved.get(id);
      if (removed !== undefined && removed.version > version) return;
      this.#view.load(fillMissingFields(entry.value), version);
    } else if (held !== undefined && held <= at) {
      this.#view.delete(id);
    }
  }

  async #getMany(ids: string[]): Promise<Deno.KvEntryMaybe<StoredContact>[]> {
    return await this.#kv.getMany<StoredContact[]>(ids.map((id) => contactKey(id)));
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

/** Builds the view from every record in KV, in one pass (the name order in one sort). */
async function loadView(kv: Deno.Kv): Promise<ContactView> {
  const view = new ContactView();
  view.startLoad();
  for await (const entry of kv.list<StoredContact>({ prefix: CONTACTS }, { batchSize: 1000 })) {
    view.load(fillMissingFields(entry.value), entry.versionstamp);
  }
  view.endLoad();
  return view;
}

/** A page from the view, with its reply text and its cursor. */
function viewPage({ texts, contacts, last, more }: ViewPage): Page {
  return textPage(texts, contacts, more && last ? encodeCursor(last) : null);
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

/** The store's epoch, made (a random UUID) the first time a store is opened without one. */
async function readEpoch(kv: Deno.Kv): Promise<string> {
  const entry = await kv.get<string>(EPOCH_KEY);
  if (typeof entry.value === "string") return entry.value;
  const epoch = crypto.randomUUID().replaceAll("-", "");
  // Two servers opening one new KV Connect store at once: the first one's epoch stands.
  const made = await kv.atomic().check(entry).set(EPOCH_KEY, epoch).commit();
  if (made.ok) return epoch;
  return (await kv.get<string>(EPOCH_KEY)).value ?? epoch;
}
