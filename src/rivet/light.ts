/**
 * The engine's light face: whether a run goes to an engine (`--engine`, PAPERCLIP_AOS_ENGINE, the config), decided
 * before anything of the engine's client or rivetkit loads (commands/run.ts); index.ts is the whole module.
 */
export { chooseEngine, type EngineChoice } from "./choice.ts";
