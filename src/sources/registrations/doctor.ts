import fs from "node:fs";
import type { Config } from "../../config/schema.js";
import type { CheckResult } from "../../destinations/contract.js";
import { registrationFolder } from "./config.js";
import { formatRegistrationError } from "./types.js";

/** `beamsync doctor`: the registrations folder is there and readable, and which files register nothing. */
export function checkRegistrations(config: Config): CheckResult[] {
  const folder = registrationFolder(config);
  if (!folder) return [];
  try {
    fs.accessSync(folder.folder, fs.constants.R_OK | fs.constants.X_OK);
  } catch (err) {
    return [
      {
        name: "registrations folder",
        severity: "error",
        message: `${folder.folder}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        fix: "create the folder and give the beamsync user read access, or set sources.registrations.folder",
      },
    ];
  }
  const files = folder.load().files;
  const bad = files.filter((f) => !f.registration);
  const registered = files.flatMap((f) => (f.registration ? [f.registration.proposal.id] : []));
  const results: CheckResult[] = [{ name: "registrations folder", severity: "ok", message: `${folder.folder}: ${registered.length} proposal(s) registered${registered.length ? ` (${registered.join(", ")})` : ""}` }];
  if (bad.length > 0) {
    results.push({
      name: "registration files",
      severity: "warning",
      message: `${bad.length} file(s) register nothing: ${bad.map((f) => (f.errors[0] ? formatRegistrationError(f.errors[0]) : f.relative)).join("; ")}`,
      fix: "fix each file at the line and field named (beamsync register FILE --dry-run lists every mistake)",
    });
  }
  return results;
}
