/** A registration as its file states it, checked: what the user registered before the beamtime. */

export interface RegisteredTray {
  id: string;
  label?: string | undefined;
  metadata: Record<string, unknown>;
}

export interface RegisteredSpecimen {
  id: string;
  name: string;
  tray?: string | undefined;
  slot?: string | undefined;
  metadata: Record<string, unknown>;
}

export interface RegisteredProposal {
  id: string;
  title?: string | undefined;
  description?: string | undefined;
  piName: string;
  piEmail: string;
  members: string[];
  groups: string[];
  /** ICAT visit id of the investigation; the proposal id when the file names none. */
  visit: string;
  /** Unix seconds. */
  start?: number | undefined;
  end?: number | undefined;
  metadata: Record<string, unknown>;
}

export interface Registration {
  /** The file, relative to the registrations folder (or as given to `beamsync register`). */
  file: string;
  proposal: RegisteredProposal;
  trays: RegisteredTray[];
  specimens: RegisteredSpecimen[];
}

/** One mistake in a registration file: where it is and which field, so the user can fix it. */
export interface RegistrationError {
  file: string;
  line: number;
  field: string;
  message: string;
}

export function formatRegistrationError(e: RegistrationError): string {
  return `${e.file}:${e.line}: ${e.field}: ${e.message}`;
}

/** Registered ids go into record keys and QR payloads: plain characters only, never `/`. */
export const REGISTERED_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
export const REGISTERED_ID_RULE = "use 1 to 64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit";
