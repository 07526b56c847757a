// Entry of the compiled binary: the runtime assets come from the binary itself, then the same CLI runs. The asset
// list and its provider (node:fs with it) load only when a command needs the runtime, so --help, `tool invoke` and
// the like start fast.
import { start } from "./_entry.ts";

await start(process.argv.slice(2), {
  assets: async () => {
    const [{ EMBEDDED_ASSETS }, { embeddedProvider }] = await Promise.all([import("../build/embedded-assets.ts"), import("../src/runtime/embedded.ts")]);
    return embeddedProvider(EMBEDDED_ASSETS);
  },
});
