import assert from "node:assert/strict";
import {
  canonicalPhone,
  isPhoneRegion,
  partialInternational,
  phoneRegion,
  setPhoneRegion,
} from "./phones.ts";

Deno.test({
  name: "canonicalPhone() gives E.164 digits for whole numbers, under a region for national ones",
  permissions: "none",
  fn() {
    const cases: Array<[string, string | null, string | null]> = [
      ["+44 20 7946 0958", null, "442079460958"],
      ["+44 (0)20 7946 0958", null, "442079460958"],
      ["tel:+44-20-7946-0958", null, "442079460958"],
      ["+44 20 7946 0958 ext. 12", null, "442079460958"],
      ["020 7946 0958", null, null], // no country code, no region: compared as written
      ["020 7946 0958", "GB", "442079460958"],
      ["0044 20 7946 0958", "GB", "442079460958"],
      ["07700 900123", "GB", "447700900123"], // possible, its trunk 0 taken off
      ["020 7946", "GB", null], // too short once the 0 is off: not a whole number
      ["(202) 555-0123", "US", "12025550123"],
      ["555-0123", "US", null],
      ["+1 555 0100", null, null], // not a possible length for +1
      ["020 7946 0958", "DE", null],
      ["", "GB", null],
      ["none", null, null],
    ];
    for (const [number, region, canonical] of cases) {
      const got = canonicalPhone(number, region);
      if (number === "020 7946 0958" && region === "DE") {
        // Another region reads it as its own number (or none): never the UK one.
        assert.notEqual(got, "442079460958");
        continue;
      }
      assert.equal(got, canonical, `${number} in ${region}`);
    }
  },
});

Deno.test({
  name: "partialInternational() reads a national number being typed, and only one",
  permissions: "none",
  fn() {
    assert.equal(partialInternational("020 7946", "GB"), "44207946");
    assert.equal(partialInternational("07700", "GB"), "447700");
    assert.equal(partialInternational("7946", "GB"), null); // no trunk prefix: no national form
    assert.equal(partialInternational("+44 20", "GB"), null); // international already
    assert.equal(partialInternational("020 7946", null), null);
  },
});

Deno.test({
  name: "setPhoneRegion() takes the metadata's region codes in any case, and refuses others",
  permissions: "none",
  fn() {
    assert.equal(phoneRegion(), null);
    try {
      setPhoneRegion("gb");
      assert.equal(phoneRegion(), "GB");
      assert.equal(canonicalPhone("020 7946 0958"), "442079460958");
      for (const bad of ["UK", "G", "GBR", "", "1A"]) {
        assert.throws(() => setPhoneRegion(bad), RangeError, bad);
        assert.ok(!isPhoneRegion(bad));
      }
      assert.equal(phoneRegion(), "GB", "a refused code leaves the region as it was");
    } finally {
      setPhoneRegion(null);
    }
    assert.equal(canonicalPhone("020 7946 0958"), null);
  },
});
