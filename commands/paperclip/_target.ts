import type { ArgsDef } from "citty";

/** Where the Paperclip instance is (shared by install, status, uninstall). */
export const targetArgs = {
  api: { type: "string", valueHint: "URL", description: "Paperclip's API (default $PAPERCLIP_API_URL, else http://127.0.0.1:3100); a key in $PAPERCLIP_API_KEY" },
  "data-dir": { type: "string", valueHint: "DIR", description: "Paperclip's data dir (PAPERCLIP_HOME), driven through its CLI (paperclipai adapter ... -d DIR)" },
  paperclipai: { type: "string", valueHint: "BIN", description: "Paperclip's CLI for --data-dir (default: paperclipai on PATH)" },
} as const satisfies ArgsDef;
