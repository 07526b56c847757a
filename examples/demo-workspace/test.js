const assert = require("node:assert");
const { add } = require("./sum.js");

assert.strictEqual(add(2, 3), 5);
assert.strictEqual(add(-1, 1), 0);
console.log("all tests passed");
