import path from "node:path";
import type { Config } from "../../config/schema.js";
import { RegistrationFolder } from "./folder.js";

/** The registrations folder as configured: a relative `sources.registrations.folder` is taken from the DATA root. */
export function registrationFolderPath(config: Config): string {
  return path.resolve(config.dataRoot, config.sources.registrations.folder);
}

export function registrationFolder(config: Config): RegistrationFolder | undefined {
  if (!config.sources.registrations.enabled) return undefined;
  return new RegistrationFolder(registrationFolderPath(config), config.sources.registrations.facility);
}
