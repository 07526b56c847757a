/**
 * The few parts of rivetkit 2.3.19's API that paperclip-aos uses, declared here because rivetkit is not a dependency
 * of the default install (it is installed on demand, see install.ts): nothing in src/ may import "rivetkit" by name.
 * Shapes follow rivetkit's own .d.ts (dist/tsup/mod.d.ts, client/mod.d.ts); types are kept loose where rivetkit's are
 * generic over a registry, and the code using them narrows with its own contract. Add what you use, no more.
 */

/** What `actor({...})` returns: opaque to us, handed back to `setup({use})`. */
export interface RivetActorDefinition {
  readonly config: unknown;
}

/** rivetkit's `Registry` (a runner process registers its actor names with the engine through it). */
export interface RivetRegistry {
  /** Start the envoy (connect out to the engine at RIVET_ENDPOINT) and wait until it registered. */
  startAndWait(): Promise<void>;
  start(): void;
  /** Drain the registry (bounded by its shutdown grace period); does not exit the process. */
  shutdown(): Promise<void>;
}

/** `import("rivetkit")`. */
export interface RivetkitModule {
  actor(input: Record<string, unknown>): RivetActorDefinition;
  setup(input: { use: Record<string, RivetActorDefinition> } & Record<string, unknown>): RivetRegistry;
  /** Thrown by actions (`new UserError(message, {code, metadata})`), seen by the client as an ActorError. */
  UserError: new (message: string, opts?: { code?: string; metadata?: unknown }) => Error;
}

/** An action on a handle or connection: `handle.someAction(...args)`. */
export type RivetAction = (...args: unknown[]) => Promise<unknown>;

/** A live connection to one actor (`handle.connect()`): actions plus the events it `broadcast`s. */
export interface RivetActorConn {
  on(event: string, listener: (...args: unknown[]) => void): () => void;
  dispose(): Promise<void>;
  [action: string]: unknown;
}

/** A handle to one actor, found by key (`client.session.getOrCreate([agentId, taskKey])`). */
export interface RivetActorHandle {
  connect(params?: unknown): RivetActorConn;
  [action: string]: unknown;
}

export interface RivetActorAccessor {
  getOrCreate(key: string | string[], opts?: Record<string, unknown>): RivetActorHandle;
  get(key: string | string[], opts?: Record<string, unknown>): RivetActorHandle;
}

/** `createClient(endpoint)`: one accessor per registered actor name, and `dispose()`. */
export type RivetClient = { dispose(): Promise<void> } & { [actorName: string]: RivetActorAccessor };

export interface RivetClientConfig {
  endpoint?: string;
  namespace?: string;
  token?: string;
  [k: string]: unknown;
}

/** `import("rivetkit/client")`. */
export interface RivetkitClientModule {
  createClient(endpointOrConfig?: string | RivetClientConfig): RivetClient;
}

// The actor side (the session actor, src/rivet/actor.ts): the parts of rivetkit's ActorContext it uses.

/** `c.db` of an actor declared with `db: db({onMigrate})` from "rivetkit/db": raw SQL on the actor's SQLite. */
export interface ActorDb {
  execute(sql: string, ...args: unknown[]): Promise<Record<string, unknown>[]>;
}

export interface ActorCtx {
  readonly actorId: string;
  readonly key: string[];
  readonly db: ActorDb;
  /** The live client connections (`handle.connect()`). */
  readonly conns: Map<string, unknown>;
  broadcast(name: string, ...args: unknown[]): void;
  /** Hold the actor awake (no idle sleep, no shutdown finalize) until the promise settles. */
  keepAwake<T>(promise: Promise<T>): Promise<T>;
  /** Needs the actor option `enableActorRuntimeSocket: true`: agentOS reaches the actor's SQLite through it. */
  actorRuntimeSocket(): Promise<{ path: string }>;
}

/** An action's context: the actor's, plus the connection that called it (a stateless call has one of its own). */
export interface ActionCtx extends ActorCtx {
  readonly conn: { readonly id: string; readonly params: unknown };
}

/** `import("rivetkit/db")`. */
export interface RivetkitDbModule {
  db(config?: { onMigrate?: (db: ActorDb) => Promise<void> | void }): unknown;
}
