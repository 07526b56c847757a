import { join } from "node:path";

/**
 * The adapter package's code: `index.js` (ESM, Node APIs only, loaded by Paperclip's server with import()) and
 * `ui-parser.cjs` (CommonJS, zero imports, evaluated by Paperclip's UI). scripts/build.ts embeds both in the
 * compiled binary (the define below); run from source, they are bundled on demand.
 */
export interface AdapterBundle {
  index: string;
  uiParser: string;
}

/** Set by scripts/build.ts; absent when run from source. */
declare const PAPERCLIP_AOS_ADAPTER_BUNDLE: AdapterBundle | undefined;

export const UI_PARSER_MAX_BYTES = 50_000;

export async function adapterBundle(): Promise<AdapterBundle> {
  if (typeof PAPERCLIP_AOS_ADAPTER_BUNDLE !== "undefined") return PAPERCLIP_AOS_ADAPTER_BUNDLE;
  return buildAdapterBundle();
}

/** Bundle both files with Bun.build (target node); fails if the ui-parser would not load in Paperclip's UI. */
export async function buildAdapterBundle(): Promise<AdapterBundle> {
  const dir = import.meta.dir;
  const build = async (entry: string, format: "esm" | "cjs") => {
    const r = await Bun.build({ entrypoints: [join(dir, entry)], target: "node", format, minify: false, packages: "bundle" });
    if (!r.success) throw new Error(`bundling ${entry} failed: ${r.logs.map(String).join("; ")}`);
    return r.outputs[0]!.text();
  };
  const index = await build("entry.ts", "esm");
  const uiParser = await build("ui-parser-entry.ts", "cjs");
  checkUiParser(uiParser);
  if (/@paperclipai\/adapter-utils/.test(index)) throw new Error("the adapter bundle must not import @paperclipai/adapter-utils (it is the host's)");
  return { index: `// agentos_local adapter for Paperclip, bundled from paperclip-aos (src/paperclip).\n${index}`, uiParser };
}

/** What Paperclip's UI worker needs: no imports, no require, within the size limit. */
export function checkUiParser(source: string): void {
  if (Buffer.byteLength(source) > UI_PARSER_MAX_BYTES) throw new Error(`ui-parser is ${Buffer.byteLength(source)} bytes; Paperclip allows ${UI_PARSER_MAX_BYTES}`);
  if (/\brequire\(|^\s*import\s|\bimport\(/m.test(source)) throw new Error("ui-parser must import nothing");
  if (/^\s*export\s/m.test(source)) throw new Error("ui-parser must be CommonJS");
}
