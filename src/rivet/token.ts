/**
 * The engine's shared secret. rivet-engine's own `auth.admin_token` guards runner registration only: any client that
 * reaches the engine (every local user of its 127.0.0.1 ports, an agent in a VM allowed to reach localhost) could call
 * the session actor's actions. So the session actor checks a token of its own on every connection and every action:
 * the workers and the clients of one engine share it through `PAPERCLIP_AOS_ENGINE_TOKEN` in their environment
 * (never argv, never a config file); the client sends it as rivetkit's connection params (a header or websocket
 * protocol to the engine, never an action argument), the actor compares it in constant time and keeps it in memory
 * only (not in its state, runs table or event log). Secret-looking by name (src/caps/env.ts), so it never reaches a
 * sidecar or a VM.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { usageError } from "../errors.ts";
import { ENGINE_TOKEN_ENV } from "../engine-token-env.ts";

export { ENGINE_TOKEN_ENV };
/** Shorter than this is refused: a guessable secret protects nothing. */
export const ENGINE_TOKEN_MIN_LENGTH = 16;
export const ENGINE_TOKEN_HINT = `make one with 'openssl rand -hex 32' and set ${ENGINE_TOKEN_ENV} to it in the environment of every worker and client of the engine`;

/** What the client hands rivetkit as connection params (`getOrCreate(key, {params})`) and the actor checks. */
export interface EngineConnParams {
  token: string;
}

/** The token from the environment, or exit 2 (`missing_engine_token` / `weak_engine_token`) saying how to make one. */
export function engineToken(env: NodeJS.ProcessEnv, who: string): string {
  const token = env[ENGINE_TOKEN_ENV]?.trim();
  if (!token) throw usageError(`${who} needs the engine's shared token in ${ENGINE_TOKEN_ENV}`, ENGINE_TOKEN_HINT, "missing_engine_token");
  if (token.length < ENGINE_TOKEN_MIN_LENGTH) {
    throw usageError(`${ENGINE_TOKEN_ENV} is too short (${token.length} characters, at least ${ENGINE_TOKEN_MIN_LENGTH})`, ENGINE_TOKEN_HINT, "weak_engine_token");
  }
  return token;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Whether the connection params carry `expected`: compared as hashes in constant time (no length or prefix leak). */
export function tokenMatches(expected: string, params: unknown): boolean {
  const given = (params as Partial<EngineConnParams> | null | undefined)?.token;
  if (typeof given !== "string") return false;
  return timingSafeEqual(digest(expected), digest(given));
}
