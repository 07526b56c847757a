/**
 * The environment variable that carries a Rivet engine's shared token (what it guards: src/rivet/token.ts). A leaf
 * module with no imports, so that the Paperclip adapter bundle (src/paperclip, loaded by Paperclip's server) can name
 * it without pulling in the engine's modules.
 */
export const ENGINE_TOKEN_ENV = "PAPERCLIP_AOS_ENGINE_TOKEN";
