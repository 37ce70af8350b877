/**
 * The address book as the CardDAV door sees it: which resource name (href) and UID each
 * contact has, kept in memory and brought up to date from the store's change log before
 * each request (the work is the changes since the last request, not the book's size), and
 * the sync tokens of RFC 6578 made of the log's seq.
 *
 * A sync token is a URI naming an epoch and a seq: `https://addressbook.invalid/sync/<epoch>/<seq>`.
 * The epoch is the store's own (`ContactStore.epoch`, a random id kept in the store): a
 * store made by a restore has a new one, so a token of the old store is never read against
 * the new one. A KV file copied back keeps its epoch; a token from after the copy then names
 * a seq the log may not reach (answered `valid-sync-token`) or one it reaches again with
 * other changes, which the admin avoids by restoring through `import` into a new folder.
 *
 * @module
 */

import type { Contact } from "../../model/contact.ts";
import { type ContactStore, NotFoundError } from "../../store/mod.ts";
import { cardUid, keptCard, resourceName } from "./card.ts";

/** The prefix of every sync token this server hands out. */
export const SYNC_TOKEN_BASE = "https://addressbook.invalid/sync/";

/** Log entries read per call while catching up. */
const LOG_PAGE = 1000;

/** What the book knows of one contact. */
interface Entry {
  href: string;
  uid: string;
}

/** A sync token read back: its seq, or why it cannot be used. */
export type TokenCheck = { ok: true; seq: number } | { ok: false; why: string };

/**
 * The href and UID index, the removed contacts' hrefs, and the sync tokens.
 *
 * @example Index a store and resolve a contact's href
 * ```ts
 * import { DavBook } from "./book.ts";
 * import { ContactStore } from "../../store/mod.ts";
 * import { blankContact } from "../../model/contact.ts";
 * await using store = await ContactStore.open(":memory:");
 * const ann = await store.add(blankContact("Ann"));
 * const book = new DavBook(store);
 * await book.catchUp();
 * if (book.idOf(`${ann.id}.vcf`) !== ann.id) throw new Error();
 * ```
 */
export class DavBook {
  readonly #store: ContactStore;
  readonly #byId = new Map<string, Entry>();
  readonly #byHref = new Map<string, string>();
  readonly #byUid = new Map<string, string>();
  /** Hrefs of contacts removed since the index was built, by id. */
  readonly #removed = new Map<string, string>();
  /** The last log seq applied; -1 before the first build. */
  #seq = -1;
  /** The seq the index was first built at: removals before it have unknown hrefs. */
  #builtAt = 0;
  #running: Promise<void> = Promise.resolve();

  constructor(store: ContactStore) {
    this.#store = store;
  }

  /** The store's epoch (see the module doc). */
  get epoch(): string {
    return this.#store.epoch;
  }

  /** The seq the index reflects. */
  get seq(): number {
    return this.#seq;
  }

  /** The token for `seq`. */
  token(seq: number): string {
    return `${SYNC_TOKEN_BASE}${this.epoch}/${seq}`;
  }

  /**
   * Brings the index up to the log's head: the changes since the last call (all contacts
   * on the first call, or when the log no longer holds what was missed).
   */
  catchUp(): Promise<void> {
    const run = this.#running.then(() => this.#catchUp());
    this.#running = run.catch(() => {});
    return run;
  }

  async #catchUp(): Promise<void> {
    const store = this.#store;
    const head = await store.changeHead();
    if (this.#seq < 0) {
      this.#rebuild(head);
      this.#builtAt = head;
      return;
    }
    while (this.#seq < head) {
      const events = await store.changesAfter(this.#seq, LOG_PAGE);
      if (events.length === 0 || events[0]!.seq !== this.#seq + 1) {
        // Trimmed past what this index saw: read every contact again.
        this.#rebuild(head);
        return;
      }
      for (const event of events) {
        if (event.type === "removed") this.#drop(event.id);
        else this.#refresh(event.id);
        this.#seq = event.seq;
      }
    }
  }

  /** Reads every contact from the store's view; those gone since are noted as removed. */
  #rebuild(head: number): void {
    const before = new Map(this.#byId);
    this.#byId.clear();
    this.#byHref.clear();
    this.#byUid.clear();
    let cursor: string | undefined;
    do {
      const page = this.#store.listNow({ limit: 100, ...(cursor ? { cursor } : {}) });
      for (const contact of page.contacts) this.put(contact);
      cursor = page.cursor ?? undefined;
    } while (cursor !== undefined);
    for (const [id, entry] of before) if (!this.#byId.has(id)) this.#removed.set(id, entry.href);
    this.#seq = head;
  }

  #refresh(id: string): void {
    let contact: Contact;
    try {
      contact = this.#store.getNow(id);
    } catch (error) {
      if (error instanceof NotFoundError) return this.#drop(id);
      throw error;
    }
    this.put(contact);
  }

  /** Indexes a contact as stored now (after a write of this door, at once). */
  put(contact: Contact): void {
    const old = this.#byId.get(contact.id);
    if (old) {
      if (this.#byHref.get(old.href) === contact.id) this.#byHref.delete(old.href);
      if (this.#byUid.get(old.uid) === contact.id) this.#byUid.delete(old.uid);
    }
    const entry = { href: resourceName(contact), uid: cardUid(contact) };
    this.#byId.set(contact.id, entry);
    if (keptCard(contact)) this.#byHref.set(entry.href, contact.id);
    this.#byUid.set(entry.uid, contact.id);
    this.#removed.delete(contact.id);
  }

  /** Notes a contact as removed (after a DELETE of this door, at once). */
  #drop(id: string): void {
    const old = this.#byId.get(id);
    if (!old) return;
    this.#byId.delete(id);
    if (this.#byHref.get(old.href) === id) this.#byHref.delete(old.href);
    if (this.#byUid.get(old.uid) === id) this.#byUid.delete(old.uid);
    this.#removed.set(id, old.href);
  }

  /** Notes a contact this door removed. */
  removed(id: string): void {
    this.#drop(id);
  }

  /** The id of the contact at resource name `href`, or undefined. */
  idOf(href: string): string | undefined {
    const named = this.#byHref.get(href);
    if (named !== undefined) return named;
    const match = /^([0-9A-HJKMNP-TV-Z]{26})\.vcf$/.exec(href);
    if (!match) return undefined;
    const entry = this.#byId.get(match[1]!);
    return entry && entry.href === href ? match[1] : undefined;
  }

  /** The id of the contact whose card has this UID, or undefined. */
  idOfUid(uid: string): string | undefined {
    return this.#byUid.get(uid);
  }

  /** The resource name of a contact in the index (present or removed), or undefined. */
  hrefOf(id: string): string | undefined {
    return this.#byId.get(id)?.href ?? this.#removed.get(id);
  }

  /**
   * The href of a removed contact for a sync answer: the one it had, or `<id>.vcf` for a
   * removal after the index was built (one this door never saw had no name of its own);
   * undefined when it was removed before and its name cannot be known.
   */
  removedHref(id: string, seq: number): string | undefined {
    return this.#removed.get(id) ?? this.#byId.get(id)?.href ??
      (seq > this.#builtAt ? `${id}.vcf` : undefined);
  }

  /** Reads a sync token back, checked against the epoch and the log's bounds. */
  async checkToken(token: string): Promise<TokenCheck> {
    const match = /^https:\/\/addressbook\.invalid\/sync\/([0-9a-z]+)\/(\d{1,15})$/.exec(token);
    if (!match) return { ok: false, why: "it is not a sync token of this server" };
    if (match[1] !== this.epoch) {
      return { ok: false, why: "it belongs to another store (the book was restored or replaced)" };
    }
    const seq = Number(match[2]);
    if (seq > await this.#store.changeHead()) {
      return { ok: false, why: "it is newer than the book (the book was restored or replaced)" };
    }
    if (seq < await this.#store.changeLogStart()) {
      return { ok: false, why: "it is older than the change log the server keeps" };
    }
    return { ok: true, seq };
  }
}
