import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { addressKey } from "./client-address.ts";

describe("addressKey", () => {
  test("IPv4 is counted as itself, also when seen through an IPv6 socket", () => {
    assert.equal(addressKey("203.0.113.7"), "203.0.113.7");
    assert.equal(addressKey("::ffff:203.0.113.7"), "203.0.113.7");
    assert.equal(addressKey("::FFFF:127.0.0.1"), "127.0.0.1");
  });

  test("IPv6 is counted by its /64, however it is written", () => {
    const key = "2001:db8:0:12::/64";
    for (const address of [
      "2001:db8:0:12::1",
      "2001:0db8:0000:0012:abcd:ef01:2345:6789",
      "2001:db8::12:0:0:0:1",
      "2001:db8:0:12:ffff:ffff:ffff:ffff",
      "2001:db8:0:12::1%eth0",
      "2001:db8:0:12::192.0.2.1",
    ])
      assert.equal(addressKey(address), key, address);
    assert.notEqual(addressKey("2001:db8:0:13::1"), key);
    assert.equal(addressKey("::1"), "0:0:0:0::/64");
    assert.equal(addressKey("fe80::1"), "fe80:0:0:0::/64");
    assert.equal(addressKey("1::"), "1:0:0:0::/64");
  });

  test("anything else is kept as it is", () => {
    assert.equal(addressKey("unknown"), "unknown");
  });
});
