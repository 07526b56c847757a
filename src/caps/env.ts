/**
 * env.read is enforced on the host: the guest environment is built from the allowed names only, because agentOS's
 * own env scope does not hide variables passed to exec or sessions (docs/agentos.md, "Permissions"). This file is the one
 * home of the rules that keep host variables out of the guest even where a rule allows them:
 *
 * 1. VM-owned names (HOME, PATH, ..., and agentOS's own AGENTOS_*): the VM sets them; a host value would break the
 *    guest or steer the runtime. Never passed.
 * 2. Gateway names (provider keys and base URLs, our own PAPERCLIP_AOS_* settings): when a model gateway serves the
 *    VM (`run`), the keys stay with the gateway. Never passed, whatever the policy (an exact rule included).
 * 3. Secret-looking names (SECRET_ENV below: ...KEY, ...TOKEN, ...SECRET, ...PASSWORD, cloud credentials, ...) and,
 *    outside a run, the gateway names: the env counterpart of the mandatory file denies. `--allow-env` (all) and globs (`GITHUB_*`) leave them out; only a
 *    rule naming the variable exactly (`--allow-env=GITHUB_TOKEN`) passes it.
 *
 * The same names are also kept out of the sidecar's own environment (runtime/vm.ts spawns it without them), so a
 * guest that reads /proc/<sidecar>/environ through some hole still finds nothing.
 */

/** Variables the VM sets itself (HOME=/home/agentos, PATH=/opt/agentos/bin:...); a host value would break the guest. */
export const VM_OWNED_ENV = ["HOME", "USER", "LOGNAME", "PATH", "PWD", "OLDPWD", "SHELL", "SHLVL", "HOSTNAME", "_", "TMPDIR"];

/**
 * The model gateway's variables: what src/gateway reads (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, OPENAI_API_KEY,
 * OPENAI_BASE_URL, ...), the other providers' keys an agent CLI would pick up on its own, and our own settings.
 */
export const GATEWAY_ENV_PREFIXES = [
  "ANTHROPIC_",
  "OPENAI_",
  "AZURE_OPENAI_",
  "OPENROUTER_",
  "GEMINI_",
  "GOOGLE_GENERATIVE_AI_",
  "MISTRAL_",
  "GROQ_",
  "XAI_",
  "DEEPSEEK_",
  "CLAUDE_",
  "CODEX_",
  "PAPERCLIP_AOS_",
] as const;

/**
 * Secret-looking names, documented in the README (Capabilities, env.read):
 * - a name with one of these words as an `_`-separated part (any case): KEY, KEYS, APIKEY, TOKEN, TOKENS, SECRET,
 *   SECRETS, PASSWORD, PASSWORDS, PASSWD, PASS, PASSPHRASE, PWD, CREDENTIAL, CREDENTIALS, CREDS, AUTH, COOKIE,
 *   PRIVATE, DSN, SESSION, JWT, PAT, BEARER (MYSQL_PWD, AWS_ACCESS_KEY_ID, GH_TOKEN, NPM_CONFIG__AUTH, SENTRY_DSN);
 * - a part that ends in TOKEN(S), SECRET(S), PASSWORD(S), PASSWD or APIKEY, since many such names are one word
 *   (PGPASSWORD, npm's `npm_config__authToken`, CLIENTSECRET): these passed `--allow-env` before (measured);
 * - a cloud or secret-store prefix: AWS_, AZURE_, GOOGLE_, GCLOUD_, GCP_, CLOUDSDK_, VAULT_, ARM_, DIGITALOCEAN_;
 * - these names: DATABASE_URL, KUBECONFIG, NETRC, PGPASSFILE, DOCKER_CONFIG, GIT_ASKPASS, SSH_ASKPASS, SSHPASS.
 */
export const SECRET_ENV = {
  words: ["KEY", "KEYS", "APIKEY", "TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD", "PASSWORDS", "PASSWD", "PASS", "PASSPHRASE", "PWD", "CREDENTIAL", "CREDENTIALS", "CREDS", "AUTH", "COOKIE", "PRIVATE", "DSN", "SESSION", "JWT", "PAT", "BEARER"],
  suffixes: ["TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD", "PASSWORDS", "PASSWD", "APIKEY"],
  prefixes: ["AWS_", "AZURE_", "GOOGLE_", "GCLOUD_", "GCP_", "CLOUDSDK_", "VAULT_", "ARM_", "DIGITALOCEAN_"],
  names: ["DATABASE_URL", "KUBECONFIG", "NETRC", "PGPASSFILE", "DOCKER_CONFIG", "GIT_ASKPASS", "SSH_ASKPASS", "SSHPASS"],
} as const;

const SECRET_WORDS = new Set<string>(SECRET_ENV.words);

/** agentOS's own variables (AGENTOS_GUEST_PATH_MAPPINGS, AGENTOS_ALLOW_PROCESS_BINDINGS, ...): the runtime sets them per guest process. */
export const VM_OWNED_ENV_PREFIX = "AGENTOS_";

export function isVmOwnedEnv(name: string): boolean {
  return VM_OWNED_ENV.includes(name) || name.startsWith(VM_OWNED_ENV_PREFIX);
}

export function isGatewayEnv(name: string): boolean {
  return GATEWAY_ENV_PREFIXES.some((p) => name.startsWith(p));
}

export function isSecretLookingEnv(name: string): boolean {
  if ((SECRET_ENV.names as readonly string[]).includes(name)) return true;
  const upper = name.toUpperCase();
  if (SECRET_ENV.prefixes.some((p) => upper.startsWith(p))) return true;
  return upper.split("_").some((part) => SECRET_WORDS.has(part) || SECRET_ENV.suffixes.some((w) => part.endsWith(w)));
}

export interface EnvShield {
  /** vm: the VM's own; gateway: a provider key or gateway setting in a run; secret: secret-looking, needs an exact rule. */
  kind: "vm" | "gateway" | "secret";
  reason: string;
}

export interface EnvShieldContext {
  /** A model gateway serves this VM (run): its variables stay on the host whatever the policy. */
  gateway?: boolean;
}

/**
 * Why a host variable stays out of the guest although the policy may allow it; undefined when only the policy
 * decides. `exactAllow`: the deciding rule is an allow naming this variable exactly.
 */
export function envShield(name: string, exactAllow: boolean, ctx: EnvShieldContext = {}): EnvShield | undefined {
  if (isVmOwnedEnv(name)) {
    const what = name.startsWith(VM_OWNED_ENV_PREFIX) ? "is agentOS's own (the runtime sets AGENTOS_* per guest process)" : "is set by the VM itself (HOME=/home/agentos, PATH=/opt/agentos/bin:...)";
    return { kind: "vm", reason: `${name} ${what}; the host's value is never passed in` };
  }
  if (ctx.gateway && isGatewayEnv(name)) {
    return { kind: "gateway", reason: `${name} belongs to the model gateway (provider keys and settings stay on the host in a run, whatever the policy)` };
  }
  if (!exactAllow && (isSecretLookingEnv(name) || isGatewayEnv(name))) {
    const what = isSecretLookingEnv(name) ? "looks like a secret" : "is a model provider's or paperclip-aos's setting";
    return { kind: "secret", reason: `${name} ${what}: --allow-env and globs leave it out; only a rule naming it exactly (--allow-env=${name}) passes it` };
  }
  return undefined;
}

/** The environment without the gateway's variables (a run's request env and the sidecar's spawn env go through this). */
export function withoutGatewayEnv<T extends string | undefined>(env: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !isGatewayEnv(k)));
}

/** Names to drop from the sidecar's spawn environment: the gateway's and every secret-looking one (it needs none). */
export function sidecarWithheldEnv(env: Record<string, string | undefined>): string[] {
  return Object.keys(env).filter((k) => !k.startsWith("AGENTOS_") && !k.startsWith("PAPERCLIP_AOS_SIDECAR") && !k.startsWith("PAPERCLIP_AOS_REAL") && (isGatewayEnv(k) || isSecretLookingEnv(k)));
}
