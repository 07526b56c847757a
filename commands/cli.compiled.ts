// Entry of the compiled binary: the runtime assets come from the binary itself, then the same CLI runs.
import { EMBEDDED_ASSETS } from "../build/embedded-assets.ts";
import { setAssetProvider } from "../src/runtime/index.ts";
import { embeddedProvider } from "../src/runtime/embedded.ts";
import { main } from "./main.ts";

setAssetProvider(embeddedProvider(EMBEDDED_ASSETS));
await main(process.argv.slice(2));
