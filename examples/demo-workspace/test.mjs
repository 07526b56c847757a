import assert from "node:assert";
import { add } from "./sum.mjs";

assert.strictEqual(add(2, 3), 5);
assert.strictEqual(add(-1, 1), 0);
console.log("all tests passed");
