import assert from "node:assert/strict";
import { type ChangeEvent, ChangeFeed } from "./change_feed.ts";
import { parseQuery } from "../model/search_terms.ts";

function event(seq: number, name: string, town = ""): ChangeEvent {
  return {
    type: "added",
    id: `01J00000000000000000000${String(seq).padStart(3, "0")}`,
    name,
    version: String(seq).padStart(20, "0"),
    seq,
    terms: { words: [name.toLowerCase(), town.toLowerCase()].filter(Boolean), phones: [] },
  };
}

Deno.test({
  name: "ChangeFeed hands each subscription the later events its query matches, in order",
  permissions: "none",
  async fn() {
    const feed = new ChangeFeed(10);
    const all = feed.subscribe({});
    const spring = feed.subscribe({ query: parseQuery("spring") });
    assert.equal(all.start, 10);
    feed.publish(event(10, "Old")); // at or before the position: ignored
    feed.publish(event(11, "Ann", "Springfield"));
    feed.publish(event(12, "Bob", "Shelbyville"));
    await all.ready();
    assert.deepEqual(all.take().map((e) => e.seq), [11, 12]);
    assert.deepEqual(spring.take().map((e) => e.name), ["Ann"]);
    const late = feed.subscribe({});
    assert.equal(late.start, 12);
    spring.close();
    assert.equal(spring.state, "closed");
    await spring.ready(); // a closed subscription never blocks
    feed.publish(event(13, "Cy", "Springfield"));
    assert.deepEqual(spring.take(), []);
    assert.deepEqual(late.take().map((e) => e.seq), [13]);
    feed.close();
    assert.equal(feed.size, 0);
  },
});

Deno.test({
  name: "ChangeFeed drops a subscription past its cap without slowing the publisher",
  permissions: "none",
  fn() {
    const feed = new ChangeFeed(0);
    let drops = 0;
    const slow = feed.subscribe({ cap: 100, onDrop: () => drops++ });
    const fast = feed.subscribe({ cap: 100 });
    for (let seq = 1; seq <= 1000; seq++) {
      feed.publish(event(seq, "Eve"));
      if (seq % 10 === 0) fast.take();
    }
    assert.equal(drops, 1);
    assert.equal(slow.state, "dropped");
    assert.equal(fast.state, "open");
    assert.equal(feed.size, 1);
  },
});

Deno.test({
  name: "ChangeFeed.publish visits no subscriber: 500 with queries cost it nothing per event",
  permissions: "none",
  async fn() {
    const feed = new ChangeFeed(0);
    const subscriptions = Array.from(
      { length: 500 },
      (_, i) => feed.subscribe({ query: parseQuery(i % 2 ? "spring" : "shelby"), cap: 1000 }),
    );
    // Terms are read only where a query is applied: count who reads them.
    let termReads = 0;
    const counted = (seq: number) => {
      const { terms, ...rest } = event(seq, "Ann", "Springfield");
      return {
        ...rest,
        get terms() {
          termReads++;
          return terms;
        },
      };
    };
    for (let seq = 1; seq <= 100; seq++) feed.publish(counted(seq));
    assert.equal(termReads, 0, "publish applied the subscribers' queries");
    assert.equal(feed.held, 100, "one shared queue, not a copy per subscriber");
    // Each subscriber applies its own query when it takes its events.
    await subscriptions[1]!.ready();
    assert.equal(subscriptions[1]!.take().length, 100);
    assert.equal(subscriptions[0]!.take().length, 0);
    assert.equal(termReads, 200);
    // One more than the cap behind drops only those that did not take.
    for (let seq = 101; seq <= 1001; seq++) feed.publish(counted(seq));
    assert.equal(feed.size, 2);
    assert.ok(subscriptions.slice(2).every((s) => s.state === "dropped"));
    assert.equal(subscriptions[1]!.take(64).length, 64, "take(max) takes a slice");
    feed.close();
  },
});
