import type { Beamtime, Run, Sample, Snapshot } from "../../src/model/types.js";

/** A small in-memory snapshot (one beamtime, one sample, `runs` closed runs) for adapter tests. */
export function smallSnapshot(options: { runs?: number; files?: number; variant?: number; uidPrefix?: string } = {}): Snapshot {
  const variant = options.variant ?? 0;
  const beamtime: Beamtime = {
    key: "jdoe/2026-03-05.db",
    source: "resonance",
    label: "2026-03-05",
    researcher: { name: "Jane Doe", email: "jane@example.org" },
    description: variant ? `Polymer films, take ${variant}` : "Polymer films",
    timeStart: 1772700000,
    extra: {},
  };
  const sample: Sample = { key: "jdoe/2026-03-05.db#1", beamtimeKey: beamtime.key, name: "PS-b-PMMA", formula: "C8H8", tags: ["polymer"], extra: {} };
  const runs: Run[] = [];
  for (let i = 0; i < (options.runs ?? 1); i++) {
    const uid = `${options.uidPrefix ?? "0123456789abcdef0123456789ab"}${i.toString(16).padStart(4, "0")}`;
    const files = [{ path: "/data/jdoe/2026-03-05.db", size: 8192, mtimeMs: 1772701061000 }];
    for (let f = 0; f < (options.files ?? 2); f++) {
      files.push({ path: `/data/jdoe/2026-03-05.zarr/runs/${uid}/image/c/${f}/0/0`, size: 100 + f, mtimeMs: 1772701050000 });
    }
    runs.push({
      uid,
      source: "resonance",
      beamtimeKey: beamtime.key,
      sampleKey: sample.key,
      planName: "nexafs",
      timeStart: 1772701000.25 + i * 100,
      timeStop: 1772701060.5 + i * 100,
      state: "complete",
      exitStatus: "success",
      numEvents: 12 + variant,
      metadata: { energy_range: [270, 300], variant },
      streams: [{ name: "primary", dataKeys: { energy: { dtype: "number", units: "eV", source: "motor", shape: [] } } }],
      sourceFolder: "/data/jdoe",
      files,
      dataFormat: "resonance-sqlite+zarr",
    });
  }
  return { beamtimes: [beamtime], samples: [sample], runs, problems: [] };
}
