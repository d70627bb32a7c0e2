import type { Beamtime, Run, Sample } from "../model/types.js";
import { exitStatusFor } from "./common.js";
import { getPath } from "./lookup.js";
import type { MappingRule, MappingRules } from "../config/mapping-rules.js";

/**
 * Applying the per-instrument mapping to one run (pure). A field whose template names something the run does not
 * have is left out (the default mapping's value stays) and reported, never guessed and never blocking the dataset.
 */

export interface RuleContext {
  run: Run;
  sample?: Sample | undefined;
  beamtime?: Beamtime | undefined;
  beamline: string;
}

export interface RuleOutcome {
  /** The rule that applied: its name, its index, or "fallback"; none when nothing applies. */
  rule?: string;
  fields: { datasetName?: string; description?: string; keywords?: string[] };
  techniques: { pid: string; name: string }[];
  /** Fields left out, with the placeholder that had no value. */
  problems: string[];
}

const asList = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

export function matchingRule(rules: MappingRules, ctx: RuleContext): { rule: Omit<MappingRule, "match">; label: string } | undefined {
  const index = rules.rules.findIndex((r) => {
    const plans = asList(r.match.plan);
    const beamlines = asList(r.match.beamline);
    return (r.match.source === undefined || r.match.source === ctx.run.source) && (!plans || plans.includes(ctx.run.planName)) && (!beamlines || beamlines.includes(ctx.beamline));
  });
  const rule = rules.rules[index];
  if (rule) return { rule, label: rule.name ?? `rule ${index + 1}` };
  return rules.fallback ? { rule: rules.fallback, label: rules.fallback.name ?? "fallback" } : undefined;
}

export function applyRules(rules: MappingRules | undefined, ctx: RuleContext): RuleOutcome {
  const found = rules ? matchingRule(rules, ctx) : undefined;
  if (!found) return { fields: {}, techniques: [], problems: [] };
  const { rule, label } = found;
  const problems: string[] = [];
  const fill = (field: string, template: string): string | undefined => {
    const missing: string[] = [];
    const text = template.replace(/\{([\w.]+)\}/g, (_, name: string) => {
      const value = placeholder(name, ctx);
      if (value === undefined) missing.push(`{${name}}`);
      return value ?? "";
    });
    if (missing.length > 0) {
      problems.push(`${label}: ${field} left out: the run has no ${missing.join(", ")}`);
      return undefined;
    }
    return text.replace(/\s+/g, " ").trim() || undefined;
  };
  const fields: RuleOutcome["fields"] = {};
  if (rule.fields.datasetName) {
    const v = fill("datasetName", rule.fields.datasetName);
    if (v) fields.datasetName = v;
  }
  if (rule.fields.description) {
    const v = fill("description", rule.fields.description);
    if (v) fields.description = v;
  }
  if (rule.fields.keywords) {
    const list = rule.fields.keywords.map((k, i) => fill(`keywords[${i}]`, k)).filter((k): k is string => k !== undefined);
    if (list.length > 0) fields.keywords = list;
  }
  return { rule: label, fields, techniques: rule.techniques, problems };
}

function placeholder(name: string, ctx: RuleContext): string | undefined {
  const { run } = ctx;
  switch (name) {
    case "plan_name":
      return run.planName;
    case "sample":
      return ctx.sample?.name;
    case "scan_id":
      return run.scanId !== undefined ? String(run.scanId) : undefined;
    case "label":
      return ctx.beamtime?.label;
    case "beamline":
      return ctx.beamline;
    case "outcome":
      return exitStatusFor(run);
    case "uid":
      return run.uid;
    default:
      break;
  }
  if (!name.startsWith("metadata.")) return undefined;
  const value = getPath(run.metadata, name.slice("metadata.".length));
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? String(value) : undefined;
}

/** Every technique the rules (and the fallback) name, once per pid, with the first rule naming it — for `doctor`. */
export function ruleTechniques(rules: MappingRules | undefined): { pid: string; name: string; rule: string }[] {
  const out = new Map<string, { pid: string; name: string; rule: string }>();
  const all = [...(rules?.rules ?? []).map((r, i) => ({ rule: r, label: r.name ?? `rule ${i + 1}` })), ...(rules?.fallback ? [{ rule: rules.fallback, label: rules.fallback.name ?? "fallback" }] : [])];
  for (const { rule, label } of all) for (const t of rule.techniques) if (!out.has(t.pid)) out.set(t.pid, { pid: t.pid, name: t.name, rule: label });
  return [...out.values()];
}
