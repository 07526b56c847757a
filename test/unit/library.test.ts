import { expect, test } from "bun:test";
import * as aos from "paperclip-aos";

test("the package's export is the library: one namespace per module, usable without the CLI", () => {
  for (const ns of ["caps", "gateway", "heartbeat", "protocol", "runtime", "snapshot", "tools"] as const) {
    expect(Object.keys(aos[ns]).length).toBeGreaterThan(0);
  }
  const checked = aos.caps.checkPolicy({ version: 1, allow: { "fs.wirte": ["/workspace/**"] } }, "policy");
  expect(checked.valid).toBe(false);
  expect(JSON.stringify(checked.errors)).toContain("fs.write");
  expect(aos.GUEST_WORKSPACE).toBe("/workspace");
});
