// Entry of the compiled binary: the runtime assets come from the binary itself, then the same CLI runs. The
// provider (and node:fs with it) loads only when a command needs the runtime, so --help and the like start fast.
import { EMBEDDED_ASSETS } from "../build/embedded-assets.ts";
import { main } from "./main.ts";

await main(process.argv.slice(2), {
  assets: async () => (await import("../src/runtime/embedded.ts")).embeddedProvider(EMBEDDED_ASSETS),
});
