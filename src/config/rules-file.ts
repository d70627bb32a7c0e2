import fs from "node:fs";
import { isNode, LineCounter, parseDocument } from "yaml";
import { UsageError } from "../sync/errors.js";
import { rulesSchema, type MappingRules } from "./mapping-rules.js";

/**
 * Reads `mapping.rulesFile`. A mistake names the file, line and column, and the key: a YAML syntax error where the
 * parser stopped, a wrong value where the value is.
 */
export function readRulesFile(file: string): MappingRules {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`mapping.rulesFile: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"}); fix the path (relative to the configuration file)`);
  }
  return parseRules(text, file);
}

export function parseRules(text: string, file: string): MappingRules {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax) {
    const at = lines.linePos(syntax.pos[0]);
    throw new UsageError(`mapping.rulesFile: ${file}:${at.line}:${at.col}: ${syntax.message.split("\n")[0] ?? "not YAML"}`);
  }
  const parsed = rulesSchema.safeParse(doc.toJS() ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  // The deepest node the issue's path reaches (an unknown key is reported at its map).
  const keys = issue.path.map((p) => (typeof p === "number" ? p : String(p)));
  let node: unknown = doc.contents;
  for (let depth = keys.length; depth >= 0; depth--) {
    node = doc.getIn(keys.slice(0, depth), true);
    if (isNode(node) && node.range) break;
  }
  const offset = isNode(node) && node.range ? node.range[0] : 0;
  const at = lines.linePos(offset);
  const where = keys.length > 0 ? `${keys.join(".")}: ` : "";
  throw new UsageError(`mapping.rulesFile: ${file}:${at.line}:${at.col}: ${where}${issue.message}`);
}
