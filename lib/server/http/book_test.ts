import assert from "node:assert/strict";
import { DavBook } from "./book.ts";
import { ContactStore } from "../../store/mod.ts";
import { blankContact, type ContactFields } from "../../model/contact.ts";

const named = (name: string, href?: string, uid = ""): ContactFields => ({
  ...blankContact(name),
  uid,
  extra: href ? { carddav: { href } } : {},
});

Deno.test("DavBook follows the change log: hrefs, UIDs, removals and tokens", async () => {
  await using store = await ContactStore.open(":memory:");
  const book = new DavBook(store);
  await book.catchUp();
  const emptyEpoch = book.epoch;
  const ann = await store.add(named("Ann", "ann-uuid.vcf", "u-ann"));
  const bob = await store.add(named("Bob"));
  await book.catchUp();
  assert.equal(book.epoch, emptyEpoch, "the store's epoch: the same however the book changes");
  assert.equal(book.epoch, store.epoch);
  assert.equal(book.idOf("ann-uuid.vcf"), ann.id);
  assert.equal(book.idOf(`${ann.id}.vcf`), undefined, "a named card has one name only");
  assert.equal(book.idOf(`${bob.id}.vcf`), bob.id);
  assert.equal(book.idOfUid("u-ann"), ann.id);
  const token = book.token(book.seq);
  assert.deepEqual(await book.checkToken(token), { ok: true, seq: 2 });
  await store.remove(ann.id);
  await book.catchUp();
  assert.equal(book.idOf("ann-uuid.vcf"), undefined);
  assert.equal(book.removedHref(ann.id, 3), "ann-uuid.vcf");
  assert.equal(book.idOfUid("u-ann"), undefined);
  // A token from before the removal still reads: the removal is in the log after it.
  assert.deepEqual(await book.checkToken(token), { ok: true, seq: 2 });
  const foreign = token.replace(`/${store.epoch}/`, "/0123456789abcdef0123456789abcdef/");
  assert.equal((await book.checkToken(foreign)).ok, false, "another store's epoch");
  assert.equal((await book.checkToken(book.token(99))).ok, false, "a future seq");
  assert.equal((await book.checkToken("urn:other")).ok, false);
});

Deno.test("DavBook names a removal it never saw by <id>.vcf only after its first build", async () => {
  await using store = await ContactStore.open(":memory:");
  const gone = await store.add(named("Gone"));
  await store.remove(gone.id);
  const book = new DavBook(store);
  await book.catchUp();
  assert.equal(book.removedHref(gone.id, 2), undefined, "removed before the book looked");
  const later = await store.add(named("Later"));
  await store.remove(later.id);
  await book.catchUp();
  assert.equal(book.removedHref(later.id, 4), `${later.id}.vcf`);
});
