/**
 * The policy file format (one format, JSON):
 *
 * ```json
 * {
 *   "version": 1,
 *   "description": "optional, for people",
 *   "extends": "workspace-write",
 *   "allow": { "fs.read": ["/workspace/**"], "network.fetch": ["api.github.com:443"], "env.read": ["CI", "NPM_*"] },
 *   "deny":  { "fs.read": ["/workspace/secrets/**"] }
 * }
 * ```
 *
 * `allow` and `deny` map capability names to lists of entries (grammar per capability: paths.ts, network.ts,
 * rules.ts). Everything not allowed is denied. `extends` starts from one or more presets (their rules are added
 * first; order never changes a decision). Precedence: the most specific matching rule wins; at equal specificity deny
 * wins; a mandatory deny (credentials, hooks, rc files, .env*) holds unless an allow names that exact path.
 * Unknown keys are errors. `$schema` may point an editor at the output of `caps schema`.
 */
import * as v from "valibot";
import { toJsonSchema } from "@valibot/to-json-schema";
import { PRESET_NAMES } from "./presets.ts";

const entries = <T extends v.GenericSchema>(item: T, what: string) =>
  v.optional(v.pipe(v.array(item), v.description(what)));

const str = v.pipe(v.string(), v.minLength(1));

export const CapabilityListsSchema = v.strictObject({
  "fs.read": entries(
    str,
    "Paths the agent may read: guest paths (/workspace/src), paths relative to /workspace, or host paths under the mounted workspace. Globs: * (inside a segment), ? (one character), ** (any depth). A path without a glob includes everything below it.",
  ),
  "fs.write": entries(str, "Paths the agent may create, change, rename or delete. Same grammar as fs.read."),
  "network.fetch": entries(
    str,
    "Hosts the agent may connect to: host, host:port, *.domain (the domain and its subdomains), an IPv4 address, [IPv6]:port, an IPv4 CIDR such as 10.0.0.0/8, or * for all. No URLs. The host's loopback (127.0.0.1) is reachable only on ports named here and the model gateway.",
  ),
  "network.listen": entries(
    v.union([v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)), v.pipe(v.string(), v.regex(/^(\*|\d{1,5}(-\d{1,5})?)$/))]),
    "Ports the agent may listen on inside the VM: a port (3000), a range (\"8000-8100\") or \"*\".",
  ),
  "process.spawn": entries(
    str,
    "Runtime drivers the agent may start processes with: wasm (the shell, coreutils, grep ...), node, python, or *. Per-command names are accepted but agentOS 0.2.21 cannot enforce them.",
  ),
  "env.read": entries(
    v.pipe(v.string(), v.regex(/^(\*|[A-Za-z_][A-Za-z0-9_]*\*?)$/)),
    "Host environment variables passed into the VM: a name (CI), a prefix (NPM_*), or * (everything, secrets included). Nothing else from the host environment gets in.",
  ),
  "tool.invoke": entries(
    v.pipe(v.string(), v.regex(/^(\*|[A-Za-z][A-Za-z0-9-]*([.:](\*|[A-Za-z][A-Za-z0-9-]*))?)$/)),
    "Typed host tools the agent may call: collection.function (git.status), collection.* or *.",
  ),
});

export const PolicyDocumentSchema = v.pipe(
  v.strictObject({
    $schema: v.optional(v.pipe(v.string(), v.description("JSON Schema for editors (paperclip-aos caps schema > policy.schema.json)."))),
    version: v.pipe(v.literal(1), v.description("Format version; always 1.")),
    description: v.optional(v.pipe(v.string(), v.description("What this policy is for, in words."))),
    extends: v.optional(
      v.pipe(
        v.union([v.picklist(PRESET_NAMES), v.array(v.picklist(PRESET_NAMES))]),
        v.description(`Start from these presets: ${PRESET_NAMES.join(", ")}.`),
      ),
    ),
    allow: v.optional(v.pipe(CapabilityListsSchema, v.description("What the agent may do. Everything else is denied."))),
    deny: v.optional(v.pipe(CapabilityListsSchema, v.description("Exceptions to allow: a deny wins over an allow that is equally or less specific."))),
  }),
  v.title("paperclip-aos capability policy"),
  v.description(
    "Deny by default. The most specific rule wins; deny wins at equal specificity. Credentials, VCS hooks and config, shell rc files and .env* stay denied unless an allow names the exact path.",
  ),
);

export type PolicyDocument = v.InferOutput<typeof PolicyDocumentSchema>;

let cached: object | undefined;
/** The JSON Schema for policy files (`caps schema`). */
export function policyJsonSchema(): object {
  cached ??= toJsonSchema(PolicyDocumentSchema, { errorMode: "ignore" });
  return cached;
}
