import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Sample } from "../../model/types.js";
import { registrationRecords, type RegisteredRecords } from "./model.js";
import { parseRegistrationFile } from "./parse.js";
import type { Registration, RegistrationError } from "./types.js";

/**
 * The registrations folder (`sources.registrations.folder`): every `*.yaml`/`*.yml` file in it, read whole at
 * each look (they are small), and kept until a file in the folder changes. A file with mistakes registers
 * nothing; two files registering one proposal: the second (by name) is refused.
 */

export interface LoadedFile {
  /** Relative to the folder. */
  relative: string;
  size: number;
  mtimeMs: number;
  registration?: Registration | undefined;
  errors: RegistrationError[];
}

export interface RegistryView {
  files: LoadedFile[];
  /** Proposal id → its registration's records. */
  proposals: Map<string, RegisteredRecords>;
  /** Specimen id → the registered samples with that id (one per proposal that registers it). */
  specimens: Map<string, Sample[]>;
  /** Changes whenever what a run can link to changes (ids, names, proposals), or what its records take from it (groups, members). */
  fingerprint: string;
}

const REGISTRATION_FILE = /\.ya?ml$/i;

export class RegistrationFolder {
  private cached: { signature: string; view: RegistryView } | undefined;

  constructor(
    readonly folder: string,
    readonly facility: string,
  ) {}

  /** Whether the folder can be listed (a missing one registers nothing, and forgets nothing either). */
  readable(): boolean {
    try {
      fs.readdirSync(this.folder);
      return true;
    } catch {
      return false;
    }
  }

  load(): RegistryView {
    const signature = this.signature();
    if (this.cached?.signature === signature) return this.cached.view;
    const view = buildView(this.readFiles(), this.facility);
    this.cached = { signature, view };
    return view;
  }

  /** Sizes and mtimes of every file in the folder (a CSV sample list included). */
  private signature(): string {
    return this.entries()
      .map((name) => {
        try {
          const st = fs.statSync(path.join(this.folder, name));
          return `${name}:${st.size}:${st.mtimeMs}`;
        } catch {
          return `${name}:gone`;
        }
      })
      .join("\n");
  }

  private entries(): string[] {
    try {
      return fs
        .readdirSync(this.folder, { withFileTypes: true })
        .filter((e) => e.isFile() && !e.name.startsWith("."))
        .map((e) => e.name)
        .sort();
    } catch {
      return [];
    }
  }

  private readFiles(): LoadedFile[] {
    const out: LoadedFile[] = [];
    for (const name of this.entries().filter((n) => REGISTRATION_FILE.test(n))) {
      const absolute = path.join(this.folder, name);
      let st: fs.Stats;
      try {
        st = fs.statSync(absolute);
      } catch {
        continue;
      }
      const parsed = parseRegistrationFile(absolute, name);
      out.push({ relative: name, size: st.size, mtimeMs: st.mtimeMs, registration: parsed.registration, errors: parsed.errors });
    }
    return out;
  }
}

export function buildView(files: LoadedFile[], facility: string): RegistryView {
  const proposals = new Map<string, RegisteredRecords>();
  const owner = new Map<string, string>();
  for (const file of files) {
    const registration = file.registration;
    if (!registration) continue;
    const first = owner.get(registration.proposal.id);
    if (first !== undefined) {
      file.errors.push({ file: file.relative, line: 1, field: "proposal.id", message: `proposal "${registration.proposal.id}" is already registered by ${first}; keep one file per proposal` });
      file.registration = undefined;
      continue;
    }
    owner.set(registration.proposal.id, file.relative);
    proposals.set(registration.proposal.id, registrationRecords(registration, facility));
  }
  const specimens = new Map<string, Sample[]>();
  for (const records of proposals.values()) {
    for (const sample of records.samples) {
      const id = String(sample.extra.specimenId);
      specimens.set(id, [...(specimens.get(id) ?? []), sample]);
    }
  }
  // The groups and members too: the datasets of a proposal's runs carry them, so a change must reach those runs.
  const linkable = [...proposals.values()].map((r) => {
    const { groups, members } = (r.beamtime.extra.registration ?? {}) as { groups?: unknown; members?: unknown };
    return [r.beamtime.key, r.beamtime.label, groups, members, r.samples.map((s) => [s.key, s.name])];
  });
  return { files, proposals, specimens, fingerprint: createHash("sha256").update(JSON.stringify(linkable)).digest("hex").slice(0, 16) };
}
