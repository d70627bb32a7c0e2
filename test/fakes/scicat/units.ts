/**
 * `{value, unit}` entries gain `valueSI`/`unitSI` when the server stores them (surprise 11: dataset
 * scientificMetadata, sample sampleCharacteristics, instrument customMetadata). A small table of units is enough
 * for the fake; an entry whose unit it does not know is stored as sent.
 */
const SI: Record<string, [number, string]> = {
  K: [1, "K"],
  // mathjs still uses the 2010 CODATA electronvolt
  keV: [1.602176565e-16, "(kg m^2) / s^2"],
  eV: [1.602176565e-19, "(kg m^2) / s^2"],
  J: [1, "(kg m^2) / s^2"],
  m: [1, "m"],
  mm: [1e-3, "m"],
  um: [1e-6, "m"],
  nm: [1e-9, "m"],
  s: [1, "s"],
  ms: [1e-3, "s"],
  Pa: [1, "kg / (m s^2)"],
};

type Doc = Record<string, unknown>;

export function withSI(metadata: unknown): unknown {
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) return metadata;
  const out: Doc = {};
  for (const [key, entry] of Object.entries(metadata as Doc)) {
    const e = entry as Doc | null;
    const si = e !== null && typeof e === "object" && typeof e.value === "number" && typeof e.unit === "string" ? SI[e.unit] : undefined;
    // Rounded as the server's mathjs output is (instruments/05: 12 keV -> 1.922611878e-15).
    out[key] = si ? { ...e, valueSI: Number(((e!.value as number) * si[0]).toPrecision(10)), unitSI: si[1] } : entry;
  }
  return out;
}

/**
 * datasets/06 "value without unit": a PATCH that sends `value` without `unit` for a key the stored record holds
 * with both is refused with a plain-string message.
 */
export function unitDropped(stored: unknown, patch: unknown): string | undefined {
  if (stored === null || typeof stored !== "object" || patch === null || typeof patch !== "object") return undefined;
  for (const [key, entry] of Object.entries(patch as Doc)) {
    const before = (stored as Doc)[key] as Doc | undefined;
    const after = entry as Doc | null;
    if (before && typeof before === "object" && "value" in before && "unit" in before && after && typeof after === "object" && "value" in after && !("unit" in after)) return key;
  }
  return undefined;
}
