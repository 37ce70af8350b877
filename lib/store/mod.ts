/**
 * The contact store: contacts on Deno KV (a file, `:memory:` or a KV Connect URL) with
 * their indexes, change log and live change feed. This is the store's one public module;
 * code outside `lib/store` imports from here only. The files behind it: `store.ts` (the
 * {@link ContactStore}), `keys.ts` (the key layout), `change_log.ts`, `change_feed.ts`,
 * `contact_view.ts`, `group_commit.ts`, `maintenance.ts`, `paging.ts`, `errors.ts`.
 *
 * @example Open a store in memory, add a contact, find it by name
 * ```ts
 * import { ContactStore, NotFoundError } from "./mod.ts";
 * import { validateContact } from "../model/contact.ts";
 * await using store = await ContactStore.open(":memory:");
 * const bob = await store.add(validateContact({ name: "Bob" }));
 * if ((await store.find("BOB")).contacts[0]?.id !== bob.id) throw new Error();
 * await store.remove(bob.id);
 * const gone = await store.get(bob.id).catch((error) => error);
 * if (!(gone instanceof NotFoundError)) throw new Error();
 * ```
 *
 * @module
 */

export { ContactStore, storeKind } from "./store.ts";
export { LAYOUT_VERSION } from "./keys.ts";
export {
  AmbiguousError,
  ConflictError,
  isDiskFull,
  LayoutError,
  NotFoundError,
  StorageFullError,
} from "./errors.ts";
export type { PageOptions } from "./paging.ts";
export {
  changedParams,
  type ChangeEvent,
  DEFAULT_WATCH_CAP,
  type Subscription,
} from "./change_feed.ts";
