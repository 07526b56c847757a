// CommonJS face of the ui-parser (Paperclip's UI evaluates `module.exports`); see ui-parser.ts.
import { parseStdoutLine } from "./ui-parser.ts";

module.exports = { parseStdoutLine };
