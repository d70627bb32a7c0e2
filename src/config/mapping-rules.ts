import { z } from "zod";

/**
 * The per-instrument mapping (issue 17 item 3): rules chosen by what a run is (source, plan, beamline), each with
 * field templates and PaNET technique terms; the first rule that matches applies, else the fallback. Lives in
 * `mapping.rules` or in the YAML file `mapping.rulesFile` (rules-file.ts reads it, naming the line of a mistake).
 */

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const techniqueSchema = z
  .object({
    /**
     * A PaNET term's URL, http://purl.org/pan-science/PaNET/PaNET<digits>. beamsync checks the shape only: the
     * project's reference material (shared/reference) lists no PaNET terms, so no id it ships (the examples in
     * config/) is verified against one — check each in the PaNET ontology before use.
     */
    pid: z.string().url({ message: "must be the term's URL, e.g. http://purl.org/pan-science/PaNET/PaNET01196" }),
    name: z.string().min(1),
  })
  .strict();

/** Templates over {plan_name}, {sample}, {scan_id}, {label}, {beamline}, {outcome}, {uid}, {metadata.<path>}. */
export const ruleFieldsSchema = z
  .object({
    datasetName: z.string().min(1).optional(),
    description: z.string().min(1).optional(),
    /** Added to the dataset's keywords. */
    keywords: z.array(z.string().min(1)).optional(),
  })
  .strict();

export const ruleSchema = z
  .object({
    /** A label for messages and `beamsync mapping check`. */
    name: z.string().min(1).optional(),
    match: z
      .object({ source: z.enum(["resonance", "bluesky"]).optional(), plan: oneOrMany.optional(), beamline: oneOrMany.optional() })
      .strict()
      .default({}),
    techniques: z.array(techniqueSchema).default([]),
    fields: ruleFieldsSchema.default({}),
  })
  .strict();

export const rulesSchema = z
  .object({
    rules: z.array(ruleSchema).default([]),
    fallback: ruleSchema.omit({ match: true }).optional(),
  })
  .strict();

export type MappingRules = z.infer<typeof rulesSchema>;
export type MappingRule = z.infer<typeof ruleSchema>;
